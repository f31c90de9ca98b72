"""Composition root: command line, daemon service wiring, logging, reload."""
