"""``python -m sqm.server`` is the same as the ``sqm`` command."""

import sys

from sqm.server.cli.main import main

sys.exit(main())
