"""``python -m server`` is the same as the ``sqm`` command."""

import sys

from server.cli.main import main

sys.exit(main())
