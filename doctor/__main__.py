"""Entry point for ``python -m mab_doctor``."""

import sys

from mab_doctor.cli import main

sys.exit(main())
