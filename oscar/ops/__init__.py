"""The operations: each builds a pure plan, confirms it, and executes it behind one guard (safety.py)."""
