"""OSCAR's data files, shipped inside the package (``pip install`` and the live image alike):
the menu tree, the GRUB and dnsmasq templates, the other Jinja2 templates and the message
catalogue. Code finds them here, never through the source tree's layout."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
MENUS_DIR = DATA_DIR / "menus"
GRUB_TEMPLATES = DATA_DIR / "grub"
TEMPLATES = DATA_DIR / "templates"
PERSONALISE_TEMPLATES = TEMPLATES / "personalise"
LOCALE_DIR = DATA_DIR / "locale"
