"""Entry point for ``python -m mab_doctor``."""

import gc
import sys

gc.disable()  # before the imports: why in mab_doctor.cli._no_cycle_collector

from mab_doctor.cli import main  # noqa: E402

sys.exit(main())
