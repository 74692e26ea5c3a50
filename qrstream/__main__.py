"""`python -m qrstream`: the same as `python3 run.py`."""

import sys

from qrstream.cli import main

sys.exit(main())
