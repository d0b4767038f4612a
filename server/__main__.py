"""``python -m sqm.server`` is the same as the ``sqm`` command."""

import sys

from sqm.server.cli.main import main

if __name__ == "__main__":  # not when a spawned worker imports it (sqm serve --workers)
    sys.exit(main())
