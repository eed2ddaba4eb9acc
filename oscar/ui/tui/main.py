"""`oscar tui`: the menu, or restaure mode (--restaure, or oscar=restaure on the kernel line)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import urwid

from oscar.backups import oscarpart
from oscar.core import config as configuration
from oscar.core import platform, safetext
from oscar.core.i18n import _
from oscar.disks import probe
from oscar.engine import computername, consolefont
from oscar.ui.tui import actions, mirror
from oscar.ui.tui.app import App, Screen
from oscar.ui.tui.context import Context
from oscar.ui.tui.flows.restaure import RestaureFlow

log = logging.getLogger("oscar.tui")


def restaure_requested(cmdline: str) -> bool:
    """The boot menu's "restaure" entry passes oscar=restaure to the kernel."""
    return "oscar=restaure" in cmdline.split()


def pinned_backup(cmdline: str) -> str | None:
    """The backup restaure must use, when the boot menu names one (oscar install --backup)."""
    for word in cmdline.split():
        if word.startswith("oscar.backup="):
            return word.split("=", 1)[1] or None
    return None


def build(app: App, *, restaure: bool, store: str | None, backup: str | None = None) -> object:
    """Put the first screen on ``app``; returns the flow object (tests drive it)."""
    if restaure:
        flow = RestaureFlow(app, store, backup=backup)
        flow.start()
        return flow
    ctx = Context(app, Path(store) if store else (Path(app.config.store) if app.config.store
                                                   else None))

    def open_main() -> None:
        app.stack.clear()
        actions.open_menu(ctx, "main")

    if app.config.password_hash:
        ask_password(app, app.config, open_main)
    else:
        open_main()
    return ctx


def ask_password(app: App, config: configuration.Config, then: Callable[[], None]) -> None:
    edit = urwid.Edit(_("Password: "), mask="*")
    status = urwid.Text("")

    def check() -> None:
        if configuration.password_matches(config, edit.get_edit_text()):
            then()
        else:
            edit.set_edit_text("")
            status.set_text(("error", _("Wrong password.")))

    class Entry(urwid.WidgetWrap):  # type: ignore[misc]
        def keypress(self, size: tuple[int, ...], key: str) -> str | None:
            if key == "enter":
                check()
                return None
            return self._w.keypress(size, key)  # type: ignore[no-any-return]

    pile = urwid.Pile([urwid.Text(_("The OSCAR menu is protected by a password.")),
                       urwid.Divider(), Entry(edit), status])
    app.push(Screen(_("Password"), urwid.Filler(pile, valign="top"), on_back=lambda: None,
                    keys=_("Enter: confirm")))


def own_console() -> str | None:
    """The PC's own screen (a virtual console such as /dev/tty1), or None (a serial line, a
    terminal emulator, tmux)."""
    tty = mirror.current_tty()
    return tty if tty is not None and re.fullmatch(r"/dev/tty[0-9]+", tty) else None


def place_text(store: str | None) -> str:
    """« PC salle-b12-pc07 — sauvegardes : partition OSCAR (sda4) »: the technician sees which
    PC this is and where its backups are before choosing anything. Never fails the menu."""
    try:
        disks = probe.probe_all(with_usage=False)
        found = oscarpart.find(disks)
        name = computername.of_disk(found[0]) if found else None
    except Exception as exc:  # noqa: BLE001 - a header is comfort, the menu must start
        log.warning("the PC's name and backups not found for the header: %s", exc)
        return ""
    pc = _("PC {name}").format(name=safetext.shown(name)) if name else ""
    if store:
        where = _("backups: {path}").format(path=store)
    elif found:
        where = _("backups: OSCAR partition ({dev})").format(dev=found[1].name)
    else:
        where = _("no OSCAR partition")
    return " — ".join(part for part in (pc, where) if part)


def boot_mode_text(mode: platform.BootMode) -> str:
    """Which boot path this PC took: a technician checking Secure Boot sees it here."""
    return {platform.BootMode.BIOS: _("BIOS"),
            platform.BootMode.UEFI: _("UEFI, Secure Boot off"),
            platform.BootMode.SECURE: _("UEFI, Secure Boot on")}[mode]


def main(*, restaure: bool = False, store: str | None = None) -> int:
    config = configuration.load()
    cmdline = platform.kernel_cmdline()
    restaure = restaure or restaure_requested(cmdline)
    if restaure and mirror.on_serial_line():
        return mirror.run()  # restaure runs on the PC's own screen; this line shows a copy
    tty = own_console()
    if tty is not None:
        consolefont.apply(tty)
    app = App(config)
    if restaure:
        app.mirror = mirror.mirror_path()
    app.status = boot_mode_text(platform.boot_mode())
    if not restaure:
        app.place = place_text(store)
    try:
        build(app, restaure=restaure, store=store, backup=pinned_backup(cmdline))
    except Exception as exc:  # noqa: BLE001 - an error screen, never a traceback on the console
        app.error(exc)
    app.run()
    return 0

