"""What check modules and plugin authors import: the stable surface of mab-doctor."""

from doctor.check import Check, check
from doctor.context import CommandResult, Context, Uname
from doctor.model import Action, Fix, Result, SkipCheck, Status

__all__ = ["Action", "Check", "CommandResult", "Context", "Fix", "Result", "SkipCheck", "Status", "Uname", "check"]
