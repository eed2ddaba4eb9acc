"""Outils → OSCAR_déploie: make this PC (or a disk of it) one client of the room. Disk →
the clients file and the MAC (this PC's card by default) → the file checked, every bad line
shown → plan → confirm → progress → what changed on each partition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk
from oscar.engine import netinfo
from oscar.ops.personalise import clients as clients_file
from oscar.ops.personalise.apply import Personaliser, Result, candidates
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import DiskChoice, disk_rows


class PersonaliseFlow(DiskChoice):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.disk: Disk | None = None
        self.hostname = ""

    def start(self) -> None:
        self.show_disks()

    def disk_screen(self) -> Screen:
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium and candidates(d)]
        if not disks:
            raise OscarError(_("No disk of this PC has a Windows or Linux partition."),
                             _("Restore or deploy a backup first."))
        rows = disk_rows(disks, self.choose_disk, _("The systems on this disk are personalised."))
        return Screen(_("OSCAR_déploie"), widgets.menu_screen(
            _("Which disk holds the systems to personalise?"), rows, width=10),
            on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        self.disk = disk
        fields = [widgets.Field("file", _("Clients file (YAML or CSV)"), ""),
                  widgets.Field("mac", _("MAC address of this PC"),
                                netinfo.own_mac(netinfo.interfaces(), guess=True) or "")]
        self.app.push(Screen(_("OSCAR_déploie"), widgets.form_screen(
            _("The room's clients file gives this PC its name, address, licence key and "
              "domain or workgroup (docs/personalise.md):"), fields, self.plan), help_text=_(
            "Clients file: the room's file, one line per PC (its MAC address, name, IP "
            "address, licence key, domain or workgroup). MAC address: this PC's, which picks "
            "its line; it is filled in when OSCAR can read it. Nothing is written before the "
            "plan is shown and confirmed.")))

    def plan(self, values: dict[str, str]) -> None:
        assert self.disk is not None
        try:
            room = clients_file.load(Path(values["file"].strip()))
            client = room.require(values["mac"],
                                  _("Add this PC's line, or give another MAC address."))
            personaliser = Personaliser(self.disk, client, NullProgress())
            personaliser.plan.warnings += room.warnings
        except OscarError as exc:
            self.app.error(exc)
            return
        self.hostname = client.hostname
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            personaliser.plan.render(), _("These systems will be changed. Continue?"),
            lambda: self.execute(personaliser), self.app.pop)))

    def execute(self, personaliser: Personaliser) -> None:
        def work(progress: Any) -> Any:
            personaliser.progress = progress
            return personaliser.run()

        self.app.run_task(_("OSCAR_déploie"), work, self.done, self.failed,
                          _("Stop the personalisation? Partitions already changed stay changed; "
                            "run it again to finish."), _("Stop the personalisation"))

    def done(self, result: Result) -> None:
        lines = [_("partition {n}: {change}").format(n=n, change=change)
                 for n, changes in sorted(result.changes.items()) for change in changes]
        lines += [_("partition {n}: left alone ({why})").format(n=n, why=why)
                  for n, why in sorted(result.skipped.items())]
        self.app.back_to(self.depth)
        self.app.message(_("OSCAR_déploie"), _("This PC is now {name}.").format(
            name=self.hostname) + "\n\n" + "\n".join(lines), style="ok")
