"""Fix room: the actions `--fix` can take, the plan built from results, the journal and undo."""
