"""Asterisk-style configuration files: lexer, templates, typed option schemas."""
