"""``python -m pvsd``: the command-line interface."""

from pvsd.cli import main

raise SystemExit(main())
