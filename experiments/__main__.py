"""`python -m experiments`: see experiments/run.py."""

import sys

from experiments.run import main

sys.exit(main())
