"""``python -m deepz``: the same as the ``deepz`` command."""

from deepz.cli import main

raise SystemExit(main())
