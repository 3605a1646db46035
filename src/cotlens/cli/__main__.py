"""``python -m cotlens.cli``: the ``cotlens`` command."""

import sys

from cotlens.cli import main

sys.exit(main())
