"""``python -m bench``: run the benchmark suite (see :mod:`bench.runner`)."""

import sys

from bench.runner import main

sys.exit(main())
