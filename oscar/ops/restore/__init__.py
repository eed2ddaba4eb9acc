"""Restauration: the pure plan (planner.py), the facts and the execution (restorer.py), and
the helpers for other disks (retarget, shrinkscratch, imagewrite)."""
