"""OSCAR: back up, restore and clone the PCs of a school."""

__version__ = "0.1.0"
