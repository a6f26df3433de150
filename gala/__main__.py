"""`python -m gala` runs the command line."""

from gala.cli import main

raise SystemExit(main())
