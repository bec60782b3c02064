"""`python -m alg2net`: the command line."""

import sys

from alg2net.cli import main

sys.exit(main())
