"""A console font a teacher reads from a chair: on a framebuffer the kernel's 8x16 font makes
the 80x24 menu a small block in the top-left corner of the screen (160x50 cells on 1280x800).
The largest Terminus font of Debian's console-setup that still leaves 80 columns and 24 rows
is loaded with setfont on the PC's own console (tty1); a VGA text console (80x25 already) or a
serial line is left alone."""

from __future__ import annotations

import logging
from pathlib import Path

from oscar.core import run, tools
from oscar.core.errors import OscarError

log = logging.getLogger("oscar.consolefont")
FONTS_DIR = Path("/usr/share/consolefonts")
FRAMEBUFFER_SIZE = Path("/sys/class/graphics/fb0/virtual_size")
# (file suffix, cell width, cell height), largest first: Lat15-TerminusBold<suffix>.psf.gz
TERMINUS = (("32x16", 16, 32), ("28x14", 14, 28), ("24x12", 12, 24), ("22x11", 11, 22),
            ("20x10", 10, 20), ("18x10", 10, 18), ("16", 8, 16))
COLUMNS, ROWS = 80, 24


def choose(width: int, height: int) -> str | None:
    """The font file for a framebuffer of ``width`` x ``height`` pixels; None when even the
    smallest leaves less than 80x24 (the kernel's font stays)."""
    for suffix, cell_width, cell_height in TERMINUS:
        if width // cell_width >= COLUMNS and height // cell_height >= ROWS:
            return f"Lat15-TerminusBold{suffix}.psf.gz"
    return None


def framebuffer_size(source: Path = FRAMEBUFFER_SIZE) -> tuple[int, int] | None:
    try:
        width, height = source.read_text().strip().split(",")
        return int(width), int(height)
    except (OSError, ValueError):
        return None


def apply(tty: str) -> str | None:
    """Load the chosen font on ``tty`` (a virtual console); returns its name, None when the
    console keeps its font. Never fails the menu: a font is comfort, not safety."""
    size = framebuffer_size()
    if size is None:
        return None  # a VGA text console: 80x25 already
    font = choose(*size)
    if font is None or tools.which("setfont") is None or not (FONTS_DIR / font).exists():
        return None
    try:
        run.run(["setfont", "-C", tty, str(FONTS_DIR / font)])
    except OscarError as exc:
        log.warning("console font %s not loaded: %s", font, exc)
        return None
    log.info("console font %s for a %dx%d framebuffer", font, size[0], size[1])
    return font
