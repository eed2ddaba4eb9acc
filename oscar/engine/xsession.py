"""A bare X session on the PC's screen for one graphical program (gparted, as the original OSCAR
shipped): no desktop, no window manager; it ends when the program closes, and the console
comes back to OSCAR's menu.

xinit starts Xorg on a virtual terminal of its own (vt7), so it works from the menu on tty1 and
from the serial console alike, as long as the PC has a screen: a graphics device the kernel
drives (/dev/dri/card*) or at least a framebuffer (/dev/fb*)."""

from __future__ import annotations

from pathlib import Path

from oscar.core import oplog, tools
from oscar.core.i18n import _

PROGRAMS = ("xinit", "Xorg", "gparted")
DISPLAY = ":7"
VT = "vt7"


def screen_devices(dev: Path = Path("/dev")) -> list[Path]:
    return sorted([*dev.glob("dri/card*"), *dev.glob("fb[0-9]*")])


def unavailable(dev: Path = Path("/dev")) -> str | None:
    """Why gparted cannot open on this PC's screen (None: it can)."""
    missing = [name for name in PROGRAMS if tools.which(name) is None]
    if missing:
        return _("gparted is not available: {programs} missing on this system. Use cfdisk "
                 "(Prepare a disk → By hand) instead.").format(programs=", ".join(missing))
    if not screen_devices(dev):
        return _("gparted needs a screen, and this PC has no graphics device (a serial console "
                 "only). Use cfdisk (Prepare a disk → By hand) instead.")
    return None


def log_file() -> Path:
    """Xorg's and gparted's messages, beside OSCAR's log (on the console they would cover the
    menu)."""
    return oplog.main_log().with_name("xsession.log")


def gparted_argv(disk: str | None = None) -> list[str]:
    """xinit runs gparted (a full path: xinit takes a bare word for an option) on a new X
    server; no TCP listening, the server's own VT."""
    gparted = tools.which("gparted") or "/usr/sbin/gparted"
    return ["xinit", str(gparted), *([disk] if disk else []), "--", DISPLAY, VT,
            "-nolisten", "tcp"]
