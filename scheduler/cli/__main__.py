"""`python -m scheduler.cli` runs `kairos` (used by `kairos dev` to start its children)."""

import sys

from scheduler.cli.main import main

sys.exit(main())
