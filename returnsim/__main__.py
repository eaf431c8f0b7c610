"""``python -m returnsim`` is the ``returnsim`` command."""

from returnsim.cli import main

raise SystemExit(main())
