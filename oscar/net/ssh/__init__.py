"""SSH: addresses and pinned host keys (remote.py), export and import of a backup (transfer.py)."""
