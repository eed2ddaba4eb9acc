"""Outils → disque_usb: disk → (under 500 GB: lay it out anyway?) → the password when none
is set → plan naming the disk's model, serial and size → confirm by typing the disk's name →
progress → what each partition is for."""

from __future__ import annotations

from typing import Any

from oscar.core import config as configuration
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
        self.new_password = False

    def start(self) -> None:
        self.show_disks()

    def disk_screen(self) -> Screen:
        # External disks only: the PC's own disks are never offered for this.
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium and d.external]
        rows = disk_rows(disks, self.choose_disk, _("Every partition of the chosen disk is "
                                                    "erased."))
        intro = (_("Which external disk becomes the OSCAR USB disk? Everything on it will be "
                   "erased.") if rows else _("No external USB disk was found.") + " " +
                 _("Plug one in: this list follows the disks plugged and unplugged."))
        return Screen(_("disque_usb"), widgets.menu_screen(intro, rows, width=10),
                      on_disks_changed=self.refresh_disks)

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
            # Kept in memory until the disk is laid out: saved only on success.
            self.new_password = True
            password.ask(self.app, self.plan, persist=False)
            return
        self.plan()

    def plan(self) -> None:
        assert self.disk is not None
        try:
            init = usbdisk.UsbDiskInit(self.disk, usbdisk.UsbDiskOptions(
                allow_small=self.allow_small, password_hash=self.app.config.password_hash),
                NullProgress())
        except OscarError as exc:
            self._forget_password()
            self.app.error(exc)
            return
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            init.plan.render(), _("Everything on {description} will be erased.").format(
                description=usbdisk.describe(self.disk)),
            lambda: self.execute(init), self.cancel, typed=self.disk.name)))

    def cancel(self) -> None:
        self._forget_password()
        self.app.pop()

    def execute(self, init: usbdisk.UsbDiskInit) -> None:
        def work(progress: Any) -> Any:
            init.progress = progress
            init.run()

        self.app.run_task(_("Laying out {disk}").format(disk=init.disk.path), work, self.done,
                          self.failed, _("Stop now? The disk will have to be laid out again."),
                          _("Stop laying out the disk"))

    def failed(self, exc: BaseException) -> None:
        self._forget_password()
        super().failed(exc)

    def _forget_password(self) -> None:
        if self.new_password:
            self.app.config.password_hash = None
            self.new_password = False

    def done(self, _result: Any) -> None:
        assert self.disk is not None
        if self.new_password:
            try:
                configuration.save(self.app.config)
            except OSError as exc:
                self.app.error(exc)
            self.new_password = False
        self.app.back_to(self.depth)
        self.app.message(_("disque_usb"), _(
            "{disk} is an OSCAR USB disk. It starts OSCAR on BIOS and UEFI PCs; OSCAR-SAVE "
            "(ext4) takes a PC's backup directly, OSCAR-ECOLE (NTFS) keeps every backup of the "
            "school and is readable from Windows.").format(disk=self.disk.path), style="ok")
