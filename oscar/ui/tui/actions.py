"""What each menu item does: the registry the menus' ``action`` names resolve in."""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable

from oscar.backups import oscarpart
from oscar.core import run
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.engine import xsession
from oscar.ui.tui import menus, widgets
from oscar.ui.tui.app import Screen, log_path
from oscar.ui.tui.context import Context
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
        ctx.app.push(Screen("OSCAR", widgets.menu_screen("", rows)))
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


def usb_disk(ctx: Context, item: menus.Item) -> None:
    UsbDiskFlow(ctx).start()


def show_help(ctx: Context, item: menus.Item) -> None:
    ctx.app.push(Screen(item.label, widgets.text_screen(item.help, [(_("Back"), ctx.app.pop)])))


def logs(ctx: Context, item: menus.Item) -> None:
    path = log_path()
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = list(deque(fh, maxlen=300))
    except OSError:
        lines = [_("No log yet ({path}).").format(path=path)]
    body = widgets.MenuList([widgets.Row("", line.rstrip("\n"), lambda: None, width=0)
                             for line in lines] or [])
    if lines:
        body.set_focus(len(lines) - 1)
    ctx.app.push(Screen(_("Logs"), body, help_text=path))


def shell(ctx: Context, item: menus.Item) -> None:
    app = ctx.app
    if app.loop is None:
        return
    app.loop.screen.stop()
    try:
        print(_("Type exit to come back to the OSCAR menu."))
        run.interactive([os.environ.get("SHELL") or "/bin/bash"])
    finally:
        app.loop.screen.start()
        app.redraw()


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
    "personalise": personalise,
    "show-help": show_help,
    "logs": logs,
    "shell": shell,
    "gparted": gparted,
    "reboot": reboot,
    "poweroff": poweroff,
}
