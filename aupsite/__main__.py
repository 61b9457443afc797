"""`python -m aupsite`: the `aupsite` command (aupsite.cli), without the console script."""

import sys

from aupsite.cli import main

sys.exit(main())
