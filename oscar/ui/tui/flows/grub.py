"""Outils → GRUB: OSCAR's boot menu on the PC's disk. Disk (those with an OSCAR partition) →
the password when none is set → plan (the systems found, what is written) → confirm →
progress → the menu's entries. Installing again over an installed menu repairs it."""

from __future__ import annotations

from typing import Any

from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk
from oscar.ops import bootinstall
from oscar.ui.tui import password, widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows


class GrubFlow(DiskChoice):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.disk: Disk | None = None
        self.installed = False

    def start(self) -> None:
        self.show_disks()

    def disk_screen(self) -> Screen:
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium and
                 bootinstall.oscar_partition_of(d) is not None]
        if not disks:
            raise OscarError(_("No disk of this PC has an OSCAR partition."),
                             _("Prepare the disk first (Outils → Préparer un disque)."))
        installed = {d.path for d in disks if bootinstall.installed_on(d) is not None}

        def note(disk: Disk) -> str:
            return _("[menu installed] ") if disk.path in installed else ""

        rows = disk_rows(disks, self.choose_disk, _("OSCAR's boot menu goes on this disk."),
                         note)
        return Screen(_("GRUB"), widgets.menu_screen(
            _("Which disk gets OSCAR's boot menu (its systems, OSCAR and restaure)?"), rows,
            width=10), on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        self.disk = disk
        try:
            self.installed = bootinstall.installed_on(disk) is not None
        except OscarError as exc:
            self.app.error(exc)
            return
        if self.app.config.password_hash is None and not self.installed:
            password.ask(self.app, self.plan)
            return
        self.plan()

    def plan(self) -> None:
        assert self.disk is not None
        try:
            installer = bootinstall.Installer(self.disk, bootinstall.InstallOptions(
                password_hash=self.app.config.password_hash, repair=self.installed),
                NullProgress())
        except OscarError as exc:
            self.app.error(exc)
            return
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            installer.plan.render(), _("The PC will show this menu at its next start."),
            lambda: self.execute(installer), lambda: self.cancel(installer))))

    def cancel(self, installer: bootinstall.Installer) -> None:
        installer.close()
        self.app.pop()

    def execute(self, installer: bootinstall.Installer) -> None:
        def work(progress: Any) -> Any:
            installer.progress = progress
            return installer.run()

        self.app.run_task(_("Boot menu of {disk}").format(disk=installer.disk.path), work,
                          self.done, self.failed,
                          _("Stop now? The PC may not start until the menu is installed again."),
                          _("Stop installing the menu"))

    def done(self, entries: Any) -> None:
        assert self.disk is not None
        self.app.back_to(self.depth)
        self.app.message(_("GRUB"), _(
            "The boot menu of {disk} is ready: {entries}. \"OSCAR\" and \"restaure\" ask for the "
            "user name oscar and the password.").format(disk=self.disk.path,
                                                        entries=" | ".join(entries)),
            style="ok")
