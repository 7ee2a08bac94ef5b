"""What check modules and plugin authors import: the stable surface of mab-doctor."""

from mab_doctor.core.check import Check, check
from mab_doctor.core.context import CommandResult, Context, Uname
from mab_doctor.core.facts import Fact
from mab_doctor.core.model import Action, Fix, Result, SkipCheck, Status

__all__ = ["Action", "Check", "CommandResult", "Context", "Fact", "Fix", "Result", "SkipCheck", "Status", "Uname",
           "check"]
