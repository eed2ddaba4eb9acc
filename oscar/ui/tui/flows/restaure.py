"""restaure: the PC's newest backup back onto its disk, for someone with no training.

Shows what will be restored, counts down (any key cancels), restores, then reboots. Nothing
to decide; when something is wrong, a plain sentence and a key to reboot.
"""

from __future__ import annotations

from typing import Any

import urwid

from oscar.backups import oscarpart
from oscar.backups.store import Entry, Store
from oscar.core import run
from oscar.core.errors import OscarError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import NullProgress
from oscar.disks import disklock, probe
from oscar.disks.devices import Disk
from oscar.ops.restore.planner import RestoreOptions
from oscar.ops.restore.restorer import Restorer
from oscar.ui.tui import widgets
from oscar.ui.tui.app import App, Screen

REBOOT_DELAY = 5  # seconds to read "restored" before the PC restarts by itself


class RestaureFlow:
    def __init__(self, app: App, store_path: str | None = None,
                 machine: list[Disk] | None = None, backup: str | None = None) -> None:
        self.app = app
        self.store_path = store_path
        self.backup = backup  # named by the boot menu; None: the PC's newest
        self.machine = machine  # a saved machine description instead of probing (guide)
        self.restorer: Restorer | None = None
        self.remaining = app.config.restaure_countdown
        self.counting = False
        self.rebooting = False
        self.text = urwid.Text("")

    def start(self) -> None:
        # The menu runs on the screen and on the serial line: one of them restores, the
        # others say where it happens (two restores of one disk would wreck it).
        self.session = disklock.hold("restaure")
        if self.session is None:
            self.app.replace(Screen(_("restaure"), widgets.text_screen(
                _("The restore runs on another screen of this PC. Please wait: the PC restarts "
                  "by itself when it is done.")), on_back=lambda: None, keys=" "))
            return
        try:
            self.restorer = self._prepare()
        except OscarError as exc:
            self._fatal(exc.message)
            return
        if self.restorer is None:
            self._fatal(_("There is no backup to restore on this PC."))
            return
        self.counting = True
        self._show_countdown()
        if self.app.loop is not None:
            self.app.loop.set_alarm_in(1, self._tick)

    def _prepare(self) -> Restorer | None:
        disks = self.machine or probe.probe_all(
            store_paths=[self.store_path] if self.store_path else [])
        if self.store_path is None:
            disk, part = oscarpart.require(disks)
            self.store_path = str(oscarpart.mount(part))
            disks = self.machine or probe.probe_all(store_paths=[self.store_path])
        store = Store(self.store_path)
        store.check_exists()
        pc_disk = self._pc_disk(disks)
        entry: Entry | None
        if self.backup is not None:
            entry = store.get(self.backup)
            if entry.state != "complete":
                raise OscarError(_("The backup '{name}' chosen for restaure is not usable ({state})."
                                   ).format(name=self.backup, state=entry.state))
        else:
            entry = oscarpart.newest_backup(store, pc_disk.identity if pc_disk else None)
        if entry is None or entry.manifest is None:
            return None
        source = entry.manifest.source.get("identity")
        target = next((d for d in disks if d.identity == source and not d.is_boot_medium), pc_disk)
        if target is None:
            return None
        return Restorer(target, store, RestoreOptions(entry.name), NullProgress())

    def _pc_disk(self, disks: list[Disk]) -> Disk | None:
        holding = [d for d in disks if d.holds_store and not d.is_boot_medium]
        return holding[0] if holding else None

    def _summary(self) -> str:
        assert self.restorer is not None
        man = self.restorer.man
        parts = ", ".join(f"{p.number} ({p.fstype}, {p.label or '-'})" for p in self.restorer.entries)
        return _("This PC will be put back as it was on {date}.\n\nBackup: {name}\nDisk: {disk}\n"
                 "Partitions: {parts}\n\nFiles created or changed since then on these partitions "
                 "will be lost; the backups are kept.").format(
            date=man.created[:16].replace("T", " "), name=man.name, disk=self.restorer.target.path,
            parts=parts)

    def _show_countdown(self) -> None:
        self.text.set_text(self._summary() + "\n\n" + ngettext(
            "The restore starts in {n} second. Press any key to stop it.",
            "The restore starts in {n} seconds. Press any key to stop it.",
            self.remaining).format(n=self.remaining))
        widget = _AnyKey(urwid.Filler(urwid.Padding(self.text, left=2, right=2), valign="top"),
                         self.cancel_countdown)
        if self.app.stack and isinstance(self.app.current.widget, _AnyKey):
            self.app.current.widget = widget
            self.app.show_current()
        else:
            self.app.push(Screen(_("restaure"), widget, on_back=self.cancel_countdown,
                                 keys=_("Any key: stop the countdown")))

    def _tick(self, _loop: object = None, _data: object = None) -> None:
        if not self.counting:
            return
        self.remaining -= 1
        if self.remaining <= 0:
            self.counting = False
            self.go()
            return
        self._show_countdown()
        if self.app.loop is not None:
            self.app.loop.set_alarm_in(1, self._tick)

    def tick(self) -> None:
        """One second passes (tests drive the countdown with this)."""
        self._tick()

    def cancel_countdown(self) -> None:
        if not self.counting:
            return
        self.counting = False
        self.app.replace(Screen(_("restaure"), widgets.text_screen(
            self._summary() + "\n\n" + _("The restore was stopped. Nothing has been changed."),
            [(_("Restore now"), self.go), (_("Reboot without restoring"), self.reboot)]),
            on_back=lambda: None))

    def go(self) -> None:
        restorer = self.restorer
        assert restorer is not None

        def work(progress: Any) -> Any:
            restorer.progress = progress
            return restorer.run()

        self.app.run_task(_("Restoring this PC"), work, self.done, self.failed,
                          _("Stop the restore? The PC will not start correctly until a restore "
                            "completes."))

    def done(self, _log: Any) -> None:
        self.app.replace(Screen(_("restaure"), widgets.text_screen(
            ngettext("The PC has been restored. It restarts in {n} second.",
                     "The PC has been restored. It restarts in {n} seconds.",
                     REBOOT_DELAY).format(n=REBOOT_DELAY),
            [(_("Restart"), self.reboot)], style="ok"), on_back=lambda: None,
            keys=_("Enter: restart the PC")))
        if self.app.loop is not None:
            self.app.loop.set_alarm_in(REBOOT_DELAY, lambda *_args: self.reboot())

    def failed(self, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, OscarError) else repr(exc)
        self._fatal(message)

    def _fatal(self, message: str) -> None:
        text = message + "\n\n" + _("Call the person in charge of the computers. Press Enter "
                                    "to restart the PC.")
        self.app.replace(Screen(_("restaure"), widgets.text_screen(
            text, [(_("Restart"), self.reboot)], style="error"), on_back=lambda: None,
            keys=_("Enter: restart the PC")))

    def reboot(self) -> None:
        if self.rebooting:
            return
        self.rebooting = True
        try:
            oscarpart.before_restart()
            run.run(self.app.config.reboot_command)
        except OscarError as exc:
            self.rebooting = False
            self.app.error(exc)
            return
        if self.app.loop is not None:
            self.app.exit()


class _AnyKey(urwid.WidgetWrap):  # type: ignore[misc]
    """Any key stops the countdown (the person changed their mind, or pressed one by mistake)."""

    def __init__(self, widget: urwid.Widget, on_key: Any) -> None:
        super().__init__(widget)
        self.on_key = on_key

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        self.on_key()
        return None
