"""Déploiement → serveur PXE: the room's network boot. Options (interface, DHCP) → the DHCP
probe, and the technician's consent when OSCAR would lease addresses itself → the servers
start → their status, with Stop. Opened while it runs, the flow shows the status at once."""

from __future__ import annotations

from typing import Any

from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.engine import netinfo
from oscar.net.pxe import service
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Flow


class ConsentNeeded(Exception):
    """No DHCP server answered: the question goes to the person, then the start again."""

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question


class PxeFlow(Flow):
    def start(self) -> None:
        if service.status().running:
            self.show_status()
            return
        self.options()

    def options(self) -> None:
        try:
            found = [i for i in netinfo.interfaces() if i.name != "lo" and i.up]
        except OscarError as exc:
            self.app.error(exc)
            return
        if not found:
            self.app.message(_("PXE server"), _("No network interface is connected."),
                             style="error")
            return
        no_address = _("no address")
        fields = [
            widgets.Field("interface", _("Network"), found[0].name,
                          [(i.name, f"{i.name} ({i.address or no_address})") for i in found]),
            widgets.Field("dhcp", _("DHCP"), "auto", [
                ("auto", _("automatic: proxy beside the school's server, else ask")),
                ("proxy", _("proxy: the school's server leases the addresses")),
                ("pxe", _("PXE only: OSCAR leases the range below to network-booting PCs "
                          "(UEFI PCs beside the school's server)")),
                ("none", _("none: the school's server points to OSCAR"))]),
            widgets.Field("range", _("Range (PXE only): FROM,TO"), ""),
            widgets.Field("timeout", _("Seconds before the local disk boots"), "10"),
        ]
        self.app.push(Screen(_("PXE server"), widgets.form_screen(
            _("The PCs of the room boot from the network into OSCAR (to receive a "
              "deployment, or the menu):"), fields, lambda values: self.launch(values, False))))

    def launch(self, values: dict[str, str], consent: bool) -> None:
        try:
            timeout = int(values["timeout"])
        except ValueError:
            self.app.message(_("PXE server"), _("Give a number of seconds."), style="error")
            return
        # the backups are served too: the menu's own store, else the configured one
        store = str(self.ctx.store_path) if self.ctx.store_path else self.app.config.store

        def ask(question: str) -> bool:
            if consent:
                return True
            raise ConsentNeeded(question)

        def work(progress: Any) -> Any:
            progress.message(_("Looking for a DHCP server on {name}...").format(
                name=values["interface"]))
            prepared = service.prepare(service.StartOptions(
                values["interface"], "full" if consent else values["dhcp"],
                range=values.get("range", "").strip() or None, store=store, timeout=timeout),
                ask)
            progress.message(_("Starting the servers..."))
            service.launch(prepared.settings)
            return prepared

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, ConsentNeeded):
                self.failed(exc)
                return
            self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
                exc.question, _("Only if this network has no DHCP server of its own: two "
                                "servers would hand out conflicting addresses."),
                lambda: self.launch(values, True), self.app.pop)))

        self.app.run_task(_("PXE server"), work, lambda _prepared: self.started(), failed,
                          _("Stop starting the network boot?"), _("Stop starting it"))

    def started(self) -> None:
        self.app.back_to(self.depth)
        self.show_status()

    def show_status(self) -> None:
        self.app.push(Screen(_("PXE server"), widgets.text_screen(
            "\n".join(service.summary_lines()),
            [(_("Refresh"), self.refresh), (_("Stop"), self.stop), (_("Back"), self.app.pop)])))

    def refresh(self) -> None:
        self.app.pop()
        self.show_status()

    def stop(self) -> None:
        try:
            service.stop()
        except OscarError as exc:
            self.app.error(exc)
            return
        self.app.back_to(self.depth)
        self.app.message(_("PXE server"), _("Network boot stopped: its servers, address and "
                                            "files are gone."), style="ok")
