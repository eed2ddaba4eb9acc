"""GRUB configurations rendered from the Jinja2 templates in grub/, and checked by
grub-script-check before anything uses them (one bad line silently drops entries)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import jinja2

from oscar import run
from oscar.errors import OscarError
from oscar.i18n import _

TEMPLATES = Path(__file__).resolve().parents[2] / "grub"
SUPERUSER = "oscar"
KERNEL_OPTIONS = "quiet console=tty0 console=ttyS0,115200n8"


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_live(*, password_hash: str | None = None, timeout: int = 10) -> str:
    """The live image's menu. With a password, OSCAR and restaure ask for it and the default
    is the unrestricted first-disk entry (a protected default would wait at the username
    prompt forever)."""
    if password_hash is not None and not password_hash.startswith("grub.pbkdf2.sha512."):
        raise OscarError(_("The password hash is not a GRUB PBKDF2 hash."),
                         _("Make it with 'oscar password' or grub-mkpasswd-pbkdf2."))
    return environment().get_template("live.cfg.j2").render(
        default="disk" if password_hash else "oscar", timeout=timeout,
        password_hash=password_hash, superuser=SUPERUSER, kernel_options=KERNEL_OPTIONS,
        first_disk_label=_("Boot from the first hard disk"))


def check(text: str) -> None:
    """grub-script-check the configuration; a failure keeps it from being used."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="oscar-grub-") as fh:
        fh.write(text)
        fh.flush()
        result = run.run(["grub-script-check", fh.name], check=False)
    if result.returncode != 0:
        raise OscarError(_("The generated GRUB menu is not valid: {why}").format(
            why=(result.stderr or result.stdout.decode()).strip()[:200]),
            _("The working menu was kept; report this as a bug."))
