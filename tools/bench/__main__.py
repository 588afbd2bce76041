"""`python -m tools.bench`: see the package's docstring, or `--help`."""

import sys

from tools.bench.sections import main

sys.exit(main())
