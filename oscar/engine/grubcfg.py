"""GRUB configurations rendered from the Jinja2 templates in grub/, and checked by
grub-script-check before anything uses them (one bad line silently drops entries)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from oscar import __version__
from oscar.core import run, settings
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.data import GRUB_TEMPLATES

# The templates ship beside the package (the source tree, /opt/oscar in the live system); a
# school may use its own copy (OSCAR_GRUB_TEMPLATES): a copy that breaks the menu is caught
# by check() before it replaces a working one.
TEMPLATES = GRUB_TEMPLATES
SUPERUSER = "oscar"
KERNEL_OPTIONS = "quiet console=tty0 console=ttyS0,115200n8"
LIVE_PATH = "/boot/live"  # the live system's folder on the OSCAR partition
GRUB_FS = {"ext2": "ext2", "ext3": "ext2", "ext4": "ext2", "xfs": "xfs", "btrfs": "btrfs"}
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_./:,=+@%-]+$")


def grub_word(text: str) -> str:
    """One word of GRUB script, quoted when it holds anything GRUB would interpret ($, ;, {,
    quotes, spaces...): inside single quotes nothing is special, and a quote itself is
    written '\''."""
    if _PLAIN_WORD.match(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def grub_words(text: str) -> str:
    return " ".join(grub_word(word) for word in text.split())


def templates_dir() -> Path:
    return Path(settings.GRUB_TEMPLATES.value() or TEMPLATES)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["grub_word"] = grub_word
    env.filters["grub_words"] = grub_words
    return env


def check_hash(password_hash: str | None) -> None:
    if password_hash is not None and not password_hash.startswith("grub.pbkdf2.sha512."):
        raise OscarError(_("The password hash is not a GRUB PBKDF2 hash."),
                         _("Make it with 'oscar password' or grub-mkpasswd-pbkdf2."))


def render_live(*, password_hash: str | None = None, timeout: int = 10) -> str:
    """The live image's menu. With a password, OSCAR and restaure ask for it and the default
    is the unrestricted first-disk entry (a protected default would wait at the username
    prompt forever)."""
    check_hash(password_hash)
    return environment().get_template("live.cfg.j2").render(
        default="disk" if password_hash else "oscar", timeout=timeout,
        password_hash=password_hash, superuser=SUPERUSER, kernel_options=KERNEL_OPTIONS,
        first_disk_label=_("Boot from the first hard disk"))


def live_options(oscar_uuid: str, lang: str = "fr") -> str:
    """The live system's kernel line when it starts from the OSCAR partition: live-boot finds
    its squashfs there by filesystem UUID (a USB key labelled OSCAR may be plugged in too)."""
    words = ["boot=live", "components", f"live-media=/dev/disk/by-uuid/{oscar_uuid}",
             f"live-media-path={LIVE_PATH}", KERNEL_OPTIONS]
    if lang == "en":
        words += ["oscar.lang=en", "locales=en_US.UTF-8", "keyboard-layouts=us"]
    return " ".join(words)


# Said by GRUB (ASCII: its console font) before restarting into Windows on a BitLocker PC.
RESTART_FOR_WINDOWS = {
    "fr": "Redemarrage : Windows demarre par le menu du PC (BitLocker).",
    "en": "Restarting: Windows starts from the PC's own boot entry (BitLocker).",
}


def render_disk(*, systems: list[Any], oscar_uuid: str, password_hash: str | None,
                default: str, timeout: int, backup: str | None = None, lang: str = "fr",
                serial: bool = True) -> str:
    """The menu of a PC's own disk: its systems (unrestricted), then OSCAR and restaure
    (the password's superuser only). ``systems``: bootsystems.BootSystem objects."""
    check_hash(password_hash)
    entries = [{"id": s.id, "title": s.title, "kind": s.kind, "platform": s.platform,
                "fs_uuid": s.fs_uuid, "loader": s.loader, "initrd": s.initrd,
                "options": s.options, "grub_fs": GRUB_FS.get(s.fstype or "", "ext2"),
                "via_firmware": s.via_firmware}
               for s in systems]
    try:
        return environment().get_template("disk.cfg.j2").render(
            version=__version__, default=default, timeout=timeout, serial=serial,
            password_hash=password_hash, superuser=SUPERUSER, systems=entries,
            oscar_uuid=oscar_uuid, live_path=LIVE_PATH,
            live_options=live_options(oscar_uuid, lang), backup=backup,
            restart_for_windows=RESTART_FOR_WINDOWS.get(lang, RESTART_FOR_WINDOWS["en"]))
    except jinja2.TemplateError as exc:
        raise OscarError(_("The boot menu template cannot be used: {why}").format(
            why=f"{type(exc).__name__}: {exc}"[:200]),
            _("The working menu was kept; check the templates in {folder}.").format(
                folder=templates_dir())) from exc


def render_usbdisk(*, boot_uuid: str, password_hash: str | None, timeout: int = 10) -> str:
    """The menu of an OSCAR USB disk: OSCAR, restaure, OSCAR in English and the PC's own disk.
    With a password, the PC's disk (unrestricted) is the default: a protected default would
    wait at the user name prompt forever."""
    check_hash(password_hash)
    return environment().get_template("usbdisk.cfg.j2").render(
        version=__version__, default="disk" if password_hash else "oscar", timeout=timeout,
        password_hash=password_hash, superuser=SUPERUSER, boot_uuid=boot_uuid,
        live_path=LIVE_PATH, live_options=live_options(boot_uuid),
        live_options_en=live_options(boot_uuid, "en"),
        first_disk_label=_("Boot from the first hard disk"))

def check(text: str, hint: str | None = None) -> None:
    """grub-script-check the configuration; a failure keeps it from being used."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="oscar-grub-") as fh:
        fh.write(text)
        fh.flush()
        result = run.run(["grub-script-check", fh.name], check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout.decode()).strip().splitlines() or ["?"]
        where = next((line for line in lines if line.startswith("Syntax error at line")),
                     lines[-1])
        custom = settings.GRUB_TEMPLATES.value()
        if hint is None:
            hint = (_("The working menu was kept; fix the templates in {folder}.").format(
                folder=custom) if custom else _("The working menu was kept; report this as a bug."))
        raise OscarError(
            _("The generated GRUB menu is not valid: {why}").format(why=where.strip()[:200]), hint)
