"""``python -m benchmark.cli``: the same as the ``bgbench`` command."""

import sys

from benchmark.cli import main

sys.exit(main())
