"""``python -m studio ...``: see studio.app.cli."""

import sys

from studio.app.cli import main

sys.exit(main())
