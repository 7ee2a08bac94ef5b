"""Commands room: one module per `mab-doctor` command; each takes frozen Options and returns an exit code."""
