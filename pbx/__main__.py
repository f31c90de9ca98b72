"""``python -m pbx`` runs the command-line entry point."""

from pbx.app.cli import main

raise SystemExit(main())
