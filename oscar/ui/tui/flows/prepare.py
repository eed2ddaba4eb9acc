"""Préparer un disque: disk → layout (or by hand with gparted / cfdisk) → table type → plan →
confirm by typing the disk's name → progress → result."""

from __future__ import annotations

import functools
from typing import Any

from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk
from oscar.engine import xsession
from oscar.ops.prepare import PrepareOptions, Preparer, check_target, default_label
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows


def manual_editor(screen_missing: str | None) -> str:
    """gparted when the PC has a screen and gparted (as the seed did), cfdisk otherwise."""
    return "cfdisk" if screen_missing else "gparted"


class PrepareFlow(DiskChoice):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.disk: Disk | None = None

    def start(self) -> None:
        self.show_disks()

    def disk_screen(self) -> Screen:
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium]
        rows = disk_rows(disks, self.choose_disk, _("Every partition of the chosen disk is erased."))
        return Screen(_("Prepare a disk"), widgets.menu_screen(
            _("Which disk do you want to prepare? Everything on it will be erased."), rows,
            width=10), on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        try:
            check_target(disk)
        except OscarError as exc:
            self.app.error(exc)
            return
        self.disk = disk
        editor = manual_editor(xsession.unavailable())
        rows = [
            widgets.MenuRow(_("Windows only"), _("Windows, and the OSCAR partition"),
                            functools.partial(self.choose_table, "windows")),
            widgets.MenuRow(_("Linux only"), _("Linux and swap, and the OSCAR partition"),
                            functools.partial(self.choose_table, "linux")),
            widgets.MenuRow(_("Dual boot"), _("Windows, Linux and swap, and the OSCAR partition"),
                            functools.partial(self.choose_table, "dualboot")),
            widgets.MenuRow(_("By hand"), _("Partition it yourself with {editor}").format(
                editor=editor), functools.partial(self.by_hand, editor)),
        ]
        self.app.push(Screen(_("Layout"), widgets.menu_screen(
            _("Layout of {disk}:").format(disk=disk.path), rows),
            help_text=_("The OSCAR partition (ext4, label OSCAR, a third of the disk) keeps the "
                        "PC's backups; Windows gives it no drive letter.")))

    def choose_table(self, layout_name: str) -> None:
        assert self.disk is not None
        first = default_label(self.disk)
        choices = [("dos", _("MBR (BIOS PCs, disks up to 2 TB)")),
                   ("gpt", _("GPT (UEFI PCs, with an EFI system partition)"))]
        choices.sort(key=lambda c: c[0] != first)
        rows = [widgets.MenuRow(name.upper().replace("DOS", "MBR"), text,
                                functools.partial(self.plan, layout_name, name))
                for name, text in choices]
        self.app.push(Screen(_("Partition table"), widgets.menu_screen(
            _("Partition table of {disk}:").format(disk=self.disk.path), rows)))

    def plan(self, layout_name: str, label: str) -> None:
        assert self.disk is not None
        try:
            preparer = Preparer(self.disk, PrepareOptions(layout_name, label), NullProgress())
        except OscarError as exc:
            self.app.error(exc)
            return
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            preparer.plan.render(), _("Everything on this disk will be erased."),
            lambda: self.execute(preparer), self.app.pop, typed=self.disk.name)))

    def execute(self, preparer: Preparer) -> None:
        def work(progress: Any) -> Any:
            preparer.progress = progress
            preparer.run()

        self.app.run_task(_("Preparing {disk}").format(disk=preparer.disk.path), work, self.done,
                          self.failed, _("Stop preparing the disk? It will have to be prepared "
                                         "again."), _("Stop preparing"))

    def done(self, _result: Any) -> None:
        assert self.disk is not None
        self.app.back_to(self.depth)
        self.app.message(_("Prepare a disk"), _(
            "{disk} is ready: install the systems, then save them with OSCAR.").format(
            disk=self.disk.path), style="ok")


    def by_hand(self, editor: str) -> None:
        assert self.disk is not None
        app = self.app
        ran = (app.hand_over(xsession.gparted_argv(self.disk.path), output=xsession.log_file())
               if editor == "gparted" else app.hand_over([editor, self.disk.path]))
        if not ran:
            return
        app.back_to(self.depth)
        app.message(_("Prepare a disk"), _("{editor} closed. Give the OSCAR partition the label "
                                           "OSCAR (ext4) so that OSCAR finds it.").format(
            editor=editor))
