"""mab-doctor: can this Linux host build multi-architecture container images?"""

__version__ = "0.1.0"
