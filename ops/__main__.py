"""`python -m ops`: the same as the `mzsync` console script."""

import sys

from ops.cli import main

sys.exit(main())
