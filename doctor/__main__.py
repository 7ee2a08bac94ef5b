"""Entry point for ``python -m doctor``."""

import sys

from mab_doctor.cli import main

sys.exit(main())
