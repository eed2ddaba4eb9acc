"""Déploiement → synchrone/asynchrone → procedure: backup (or, for disque, the disk to copy) →
room options (clients, wait, interface, what the clients do after) → confirm → the live table
of the clients → the report."""

from __future__ import annotations

import datetime
import functools
from typing import Any

from oscar.backups.store import Entry, Store
from oscar.core.errors import OscarError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk
from oscar.engine import netinfo
from oscar.net.deploy import procedures
from oscar.net.deploy.report import Report, render_table
from oscar.net.deploy.sender import Sender, SendOptions
from oscar.ops.save import SaveOptions, Saver
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows
from oscar.ui.tui.flows.restore import backup_line, newest_first

MODES = {"synchronous": "multicast", "asynchronous": "unicast"}


class DeployFlow(DiskChoice):
    def __init__(self, ctx: Context, params: dict[str, Any]) -> None:
        super().__init__(ctx)
        self.proc = procedures.get(str(params.get("procedure", "restaure")))
        self.mode = MODES.get(str(params.get("mode", "synchronous")), "multicast")
        self.store: Store | None = None
        self.name = ""
        self.disk: Disk | None = None

    def start(self) -> None:
        self.with_store(self.store_known)

    def store_known(self) -> None:
        self.store = self.open_store()
        if self.store is None:
            return
        if self.proc.whole_disk:
            self.show_disks()
            return
        entries = [e for e in newest_first(self.store.entries()) if e.state == "complete"]
        if not entries:
            self.app.message(_("Deployment"), _("No backup in {root}.").format(
                root=self.store.root))
            return
        rows = []
        for entry in entries:
            name, summary = backup_line(entry)
            rows.append(widgets.MenuRow(name, summary, functools.partial(self.choose_backup,
                                                                         entry), ""))
        self.app.push(Screen(_("Deployment"), widgets.menu_screen(
            _("Which backup goes to the clients? (newest first)"), rows, width=30)))

    def disk_screen(self) -> Screen:
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium]
        rows = disk_rows(disks, self.choose_disk, _("This disk is saved, then copied onto "
                                                    "the clients."))
        return Screen(_("Deployment"), widgets.menu_screen(
            _("Which disk of this PC is copied onto the clients?"), rows, width=10),
            on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        self.disk = disk
        self.name = "disque-" + datetime.datetime.now().strftime("%Y%m%d-%H%M")
        self.options()

    def choose_backup(self, entry: Entry) -> None:
        self.name = entry.name
        self.options()

    def options(self) -> None:
        try:
            usable = [i for i in netinfo.interfaces() if i.name != "lo" and i.address and i.up]
        except OscarError as exc:
            self.app.error(exc)
            return
        if not usable:
            self.app.message(_("Deployment"), _("No network interface has an address."),
                             style="error")
            return
        fields = [
            widgets.Field("clients", _("Number of clients"), "1"),
            widgets.Field("max_wait", _("Seconds to wait for them"), "300"),
            widgets.Field("interface", _("Network"), usable[0].name,
                          [(i.name, f"{i.name} ({i.address})") for i in usable]),
            widgets.Field("then", _("Then the clients"), "reboot",
                          [("reboot", _("restart")), ("poweroff", _("shut down")),
                           ("none", _("wait"))]),
            widgets.Field("clients_file", _("Clients file (OSCAR_déploie, optional)"), ""),
        ]
        self.app.push(Screen(_("Options"), widgets.form_screen(
            _("The room for {name} ({procedure}, {mode}):").format(
                name=self.name, procedure=self.proc.name, mode=self.mode), fields,
            self.confirm), help_text=_(
            "Clients: how many PCs of the room take part; the server starts sending when they "
            "are all there, or when the wait ends. Network card: the one wired to the room. "
            "Afterwards: what each client does once written (restart, shut down, wait). "
            "Clients file: the OSCAR_déploie file that gives each client its name, address "
            "and licence key after the deployment (optional).")))

    def confirm(self, values: dict[str, str]) -> None:
        assert self.store is not None
        try:
            clients, max_wait = int(values["clients"]), int(values["max_wait"])
        except ValueError:
            self.app.message(_("Options"), _("Give numbers for the clients and the wait."),
                             style="error")
            return
        opts = SendOptions(str(self.store.root), self.name, self.proc.name, self.mode,
                           clients, max_wait, values["interface"], values["then"],
                           clients_file=values.get("clients_file", "").strip() or None)
        saver: Saver | None = None
        try:
            if self.disk is not None:
                saver = Saver(self.disk, self.store, SaveOptions(self.name), NullProgress())
                text = saver.plan.render() + "\n\n"
            else:
                Sender(opts)  # every refusal now, before the confirmation
                text = ""
        except OscarError as exc:
            self.app.error(exc)
            return
        text += ngettext(
            "Deploy '{name}' with the procedure {procedure} ({mode}) to {n} client on "
            "{interface}. Start the client (network boot) once the server waits.",
            "Deploy '{name}' with the procedure {procedure} ({mode}) to {n} clients on "
            "{interface}. Start the clients (network boot) once the server waits.",
            clients).format(name=self.name, procedure=self.proc.name, mode=self.mode,
                                   n=clients, interface=values["interface"])
        text += "\n\n" + procedures.erased(self.proc)
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            text, _("The clients' disks will be written. Start?"),
            lambda: self.execute(opts, saver), self.app.pop)))

    def execute(self, opts: SendOptions, saver: Saver | None) -> None:
        def work(progress: Any) -> Any:
            if saver is not None:
                saver.progress = progress
                saver.run()
            sender = Sender(opts)
            sender.check_backup(progress)
            progress.start(_("clients done"), None)  # the bar counts clients, not bytes

            def on_update(phase: str, table: str) -> None:
                progress.state.table = table
                done = sum(1 for c in sender.room.snapshot() if c.final)
                progress.update(done / max(opts.clients, 1))

            return sender.run(on_update)

        self.app.run_task(_("Deployment of {name}").format(name=self.name), work, self.done,
                          self.failed, _("Stop the deployment? The clients not finished will "
                                         "have to be started again."),
                          _("Stop the deployment"))

    def done(self, report: Report) -> None:
        self.app.back_to(self.depth)
        text = render_table(report.clients, ngettext(
            "{done} of {n} client done.", "{done} of {n} clients done.",
            len(report.clients)).format(done=report.succeeded, n=len(report.clients)))
        self.app.message(_("Deployment"), text,
                         style="ok" if report.succeeded >= 1 and all(
                             c.state == "done" for c in report.clients) else "error")
