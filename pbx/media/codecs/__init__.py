"""Audio codecs and payload formats."""
