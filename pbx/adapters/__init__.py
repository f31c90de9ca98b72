"""Twisted edges: listeners, sockets and timers bound to the sans-I/O cores."""
