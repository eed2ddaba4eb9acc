"""restaure seen from a serial line: a copy of the PC's screen, never a second restore.

The menu starts on the PC's screen (tty1) and on the serial console (the kernel line always has
console=ttyS0). restaure runs on the PC's screen, where the teacher is and where its keys stop
it; the serial line only shows what that screen shows (App.mirror writes it to a file), so a
technician or a test watching the serial line follows the countdown, the progress and the end.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import urwid

from oscar.core import oplog
from oscar.core.i18n import _
from oscar.disks import disklock
from oscar.ui.tui import widgets

REFRESH = 0.5  # seconds
SERIAL_TTY = re.compile(r"/dev/tty(S|USB|ACM|AMA)\d+$")


def mirror_path() -> Path:
    return disklock.lock_dir() / "restaure-screen.txt"


def is_serial_line(tty: str, screen_exists: bool) -> bool:
    """A serial console of a PC that also has a screen: restaure is mirrored here."""
    return screen_exists and SERIAL_TTY.match(tty) is not None


def current_tty() -> str | None:
    """The terminal the menu runs on (None: not a terminal)."""
    try:
        return os.ttyname(0)
    except OSError:
        return None


def on_serial_line() -> bool:
    tty = current_tty()
    return tty is not None and is_serial_line(tty, Path("/dev/tty1").exists())


def mirrored_text(source: Path) -> str:
    """What the serial line shows: a line saying it is a copy, then the PC's screen without
    its key hints (keys typed here do nothing)."""
    notice = _("Copy of this PC's screen: the restore runs on the PC's own screen.")
    try:
        screen = source.read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError:
        return notice + "\n\n" + _("Waiting for the PC's screen...")
    return "\n".join([notice, *screen[:-1]])


def run(source: Path | None = None) -> int:
    source = source or mirror_path()
    text = urwid.Text(mirrored_text(source))

    def refresh(loop: urwid.MainLoop, _data: object = None) -> None:
        text.set_text(mirrored_text(source))
        loop.set_alarm_in(REFRESH, refresh)

    loop = urwid.MainLoop(urwid.Filler(text, valign="top"), widgets.PALETTE,
                          unhandled_input=lambda _key: True, handle_mouse=False)
    loop.set_alarm_in(REFRESH, refresh)
    with oplog.QuietTerminal():
        loop.run()
    return 0
