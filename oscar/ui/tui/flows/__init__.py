"""The menu's flows: each asks its questions, shows the plan, runs the operation in the background."""
