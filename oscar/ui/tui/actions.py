"""What each menu item does: the registry the menus' ``action`` names resolve in."""

from __future__ import annotations

import datetime
import functools
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

import urwid

from oscar.backups import oscarpart
from oscar.core import oplog, run
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.engine import xsession
from oscar.net.deploy import procedures
from oscar.ui.tui import menus, widgets
from oscar.ui.tui.app import Screen, log_path
from oscar.ui.tui.context import Context
from oscar.ui.tui.flows.delete import DeleteFlow
from oscar.ui.tui.flows.deploy import DeployFlow
from oscar.ui.tui.flows.grub import GrubFlow
from oscar.ui.tui.flows.personalise import PersonaliseFlow
from oscar.ui.tui.flows.prepare import PrepareFlow
from oscar.ui.tui.flows.pxe import PxeFlow
from oscar.ui.tui.flows.restore import RestoreFlow
from oscar.ui.tui.flows.save import SaveFlow
from oscar.ui.tui.flows.usbdisk import UsbDiskFlow

Action = Callable[[Context, menus.Item], None]


def open_menu(ctx: Context, menu_id: str, params: dict[str, object] | None = None,
              title: str | None = None) -> None:
    """Show a menu. Opened from an item, the screen is titled by that item (the path in the
    header reads Déploiement > Synchrone) and the menu's own title is its first line."""
    tree = menus.load()
    menu = tree[menu_id]
    rows = []
    for item in menu.items:
        merged = {**(params or {}), **item.params}
        rows.append(widgets.MenuRow(item.label, item.summary,
                                    functools.partial(choose, ctx, item, merged), item.help))
    if menu_id == menus.ROOT_MENU:
        # The first screen has nothing to go back to: its footer does not offer Esc.
        ctx.app.push(Screen("OSCAR", widgets.menu_screen("", rows),
                            keys=_("Arrows: move  Enter: choose  F1: help")))
    else:
        ctx.app.push(Screen(title or menu.title, widgets.menu_screen(menu.title, rows)))


def choose(ctx: Context, item: menus.Item, params: dict[str, object]) -> None:
    if item.submenu:
        open_menu(ctx, item.submenu, params, item.label)
        return
    assert item.action is not None
    ACTIONS[item.action](ctx, menus.Item(item.key, item.label_id, item.summary_id, item.help_id,
                                         item.action, None, params))


def save(ctx: Context, item: menus.Item) -> None:
    SaveFlow(ctx).start()


def restore(ctx: Context, item: menus.Item) -> None:
    RestoreFlow(ctx).start()


def prepare_disk(ctx: Context, item: menus.Item) -> None:
    PrepareFlow(ctx).start()


def grub(ctx: Context, item: menus.Item) -> None:
    GrubFlow(ctx).start()


def deploy(ctx: Context, item: menus.Item) -> None:
    DeployFlow(ctx, item.params).start()


def personalise(ctx: Context, item: menus.Item) -> None:
    PersonaliseFlow(ctx).start()


def pxe(ctx: Context, item: menus.Item) -> None:
    PxeFlow(ctx).start()


def delete_backup(ctx: Context, item: menus.Item) -> None:
    DeleteFlow(ctx).start()


def usb_disk(ctx: Context, item: menus.Item) -> None:
    UsbDiskFlow(ctx).start()


def show_help(ctx: Context, item: menus.Item) -> None:
    text = item.help
    name = item.params.get("procedure")
    if isinstance(name, str):  # aide_*: the procedure's synopsis, step by step
        text = item.help + "\n\n" + procedures.synopsis(procedures.get(name),
                                                          item.label.removeprefix("aide_"))
    ctx.app.push(Screen(item.label, widgets.text_screen(text, [(_("Back"), ctx.app.pop)])))


def logs(ctx: Context, item: menus.Item) -> None:
    """The logs to read: the newest operations' own logs (a save's, a restore's, a
    deployment's report, kept in the backups) first, then OSCAR's main log."""
    files = operation_logs(ctx.store_path) + [Path(log_path())]
    rows = [widgets.MenuRow(path.name, _log_summary(path), functools.partial(show_log, ctx, path))
            for path in files]
    ctx.app.push(Screen(_("Logs"), widgets.menu_screen(
        _("Which log? (the newest operation first)"), rows, width=38)))


def operation_logs(store: Path | None, limit: int = 8) -> list[Path]:
    """The newest logs of the operations on this store's backups (logs/ of each backup)."""
    if store is None:
        return []
    try:
        found = [p for p in store.glob(f"*/{oplog.LOGS_DIR}/*") if p.is_file()]
        found += [p for p in store.glob("*/*.log") if p.is_file()]
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    return found[:limit]


def _log_summary(path: Path) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return "?"
    return f"{moment:%Y-%m-%d %H:%M}  {path.parent.name}"


def show_log(ctx: Context, path: Path) -> None:
    """One log, wrapped: its warnings and errors first, then every line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [line.rstrip("\n") for line in deque(fh, maxlen=LOG_LINES)]
    except OSError:
        lines = []
    if not lines:
        ctx.app.message(_("Logs"), _("No log yet ({path}).").format(path=path))
        return
    problems = [line for line in lines
                if any(f" {level} " in line for level in PROBLEMS) or " failed" in line]
    texts: list[str] = []
    if problems:
        texts += [_("Warnings and errors (the newest last):"), *problems[-20:], ""]
    texts += [_("The last {n} lines of {path}:").format(n=len(lines), path=path), *lines]
    body = widgets.MenuList([_LogLine(text) for text in texts])
    body.set_focus(len(texts) - 1 if not problems else 0)
    ctx.app.push(Screen(path.name, body, help_text=_(
        "OSCAR's log: every command run, with its warnings and errors. Each backup also keeps "
        "the log of its save and of every restore in its logs folder."),
        keys=_("Arrows, PgUp, PgDn: scroll  Esc: back")))


LOG_LINES = 300
PROBLEMS = ("WARNING", "ERROR", "CRITICAL")


class _LogLine(urwid.Text):  # type: ignore[misc]
    """A wrapped line of the log that the cursor can rest on (to scroll)."""

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        return key


def shell(ctx: Context, item: menus.Item) -> None:
    if ctx.app.hand_over([os.environ.get("SHELL") or "/bin/bash"],
                         notice=_("Type exit to come back to the OSCAR menu.")):
        ctx.app.redraw()


def gparted(ctx: Context, item: menus.Item) -> None:
    app = ctx.app
    why = xsession.unavailable()
    if why is not None:
        app.message(item.label, why, style="error")
        return
    if app.hand_over(xsession.gparted_argv(), output=xsession.log_file(), notice=_(
            "gparted opens on the PC's screen; close it to come back to the OSCAR menu.")):
        app.redraw()


def _power(ctx: Context, item: menus.Item, argv_of: Callable[[], list[str]], question: str) -> None:
    app = ctx.app

    def yes() -> None:
        try:
            oscarpart.before_restart()
            run.run(argv_of())
        except OscarError as exc:
            app.error(exc)
            return
        if app.loop is not None:
            app.exit()

    app.push(Screen(item.label, widgets.confirm_screen(question, "", yes, app.pop)))


def reboot(ctx: Context, item: menus.Item) -> None:
    _power(ctx, item, lambda: ctx.app.config.reboot_command, _("Restart the PC now?"))


def poweroff(ctx: Context, item: menus.Item) -> None:
    _power(ctx, item, lambda: ctx.app.config.poweroff_command, _("Shut the PC down now?"))


ACTIONS: dict[str, Action] = {
    "save": save,
    "restore": restore,
    "prepare-disk": prepare_disk,
    "grub": grub,
    "deploy": deploy,
    "pxe": pxe,
    "usb-disk": usb_disk,
    "delete-backup": delete_backup,
    "personalise": personalise,
    "show-help": show_help,
    "logs": logs,
    "shell": shell,
    "gparted": gparted,
    "reboot": reboot,
    "poweroff": poweroff,
}
