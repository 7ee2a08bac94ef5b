"""Entry point for ``python -m doctor``."""

import sys

from doctor.cli import main

sys.exit(main())
