"""Outils → disque_usb: disk → (under 500 GB: lay it out anyway?) → the password when none
is set → plan naming the disk's model, serial and size → confirm by typing the disk's name →
progress → what each partition is for."""

from __future__ import annotations

from typing import Any

from oscar.core.errors import OscarError, TargetRefused
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk
from oscar.ops import usbdisk
from oscar.ui.tui import password, widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows


class UsbDiskFlow(DiskChoice):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.disk: Disk | None = None
        self.allow_small = False

    def start(self) -> None:
        self.show_disks()

    def disk_screen(self) -> Screen:
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium]
        rows = disk_rows(disks, self.choose_disk, _("Every partition of the chosen disk is "
                                                    "erased."))
        return Screen(_("disque_usb"), widgets.menu_screen(
            _("Which external disk becomes the OSCAR USB disk? Everything on it will be "
              "erased."), rows, width=10), on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        self.disk = disk
        try:
            usbdisk.check_target(disk, allow_small=False)
        except TargetRefused as exc:
            try:
                usbdisk.check_target(disk, allow_small=True)
            except TargetRefused:
                self.app.error(exc)
                return
            # refused only for its size: a small disk or key can still serve, if wanted
            self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
                exc.message, _("Lay it out anyway? It holds fewer backups."),
                self.small_accepted, self.app.pop)))
            return
        self.allow_small = False
        self.after_size()

    def small_accepted(self) -> None:
        self.app.pop()
        self.allow_small = True
        self.after_size()

    def after_size(self) -> None:
        if self.app.config.password_hash is None:
            password.ask(self.app, self.plan)
            return
        self.plan()

    def plan(self) -> None:
        assert self.disk is not None
        try:
            init = usbdisk.UsbDiskInit(self.disk, usbdisk.UsbDiskOptions(
                allow_small=self.allow_small, password_hash=self.app.config.password_hash),
                NullProgress())
        except OscarError as exc:
            self.app.error(exc)
            return
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            init.plan.render(), _("Everything on {description} will be erased.").format(
                description=usbdisk.describe(self.disk)),
            lambda: self.execute(init), self.app.pop, typed=self.disk.name)))

    def execute(self, init: usbdisk.UsbDiskInit) -> None:
        def work(progress: Any) -> Any:
            init.progress = progress
            init.run()

        self.app.run_task(_("Laying out {disk}").format(disk=init.disk.path), work, self.done,
                          self.failed, _("Stop now? The disk will have to be laid out again."),
                          _("Stop laying out the disk"))

    def done(self, _result: Any) -> None:
        assert self.disk is not None
        self.app.back_to(self.depth)
        self.app.message(_("disque_usb"), _(
            "{disk} is an OSCAR USB disk. It starts OSCAR on BIOS and UEFI PCs; OSCAR-SAVE "
            "(ext4) takes a PC's backup directly, OSCAR-ECOLE (NTFS) keeps every backup of the "
            "school and is readable from Windows.").format(disk=self.disk.path), style="ok")
