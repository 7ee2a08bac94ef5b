"""mab-doctor: can this Linux host build multi-architecture container images?"""

import os

__version__ = "0.1.0"
# The package's data files (matrix, check catalog, schemas, man page), found beside the code: no
# importlib.resources, whose readers import zipfile on every run.
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
