"""`python -m ops.demo`: the same as `mzsync demo`."""

import sys

from ops.demo.run import main

sys.exit(main())
