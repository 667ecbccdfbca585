"""``python -m easytx``: the same command line as the ``easytx`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
