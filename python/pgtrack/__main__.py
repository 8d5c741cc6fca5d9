"""``python -m pgtrack``: the command line (pgtrack.cli)."""
import sys

from .cli import main

sys.exit(main())
