"""Telephony domain: channels, technologies, peers, bridges and the B2BUA."""
