"""``python -m pgtrack.cli``, as before the command line became a package: the same as ``python -m pgtrack``."""
import sys

from . import main

sys.exit(main())
