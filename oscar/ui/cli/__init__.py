"""The `oscar` command: one module per group of verbs; main.py builds the parser and maps
errors to one line, a hint and an exit code."""
