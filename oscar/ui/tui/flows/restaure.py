"""restaure: the PC's newest backup back onto its disk, for someone with no training.

Shows what will be restored, counts down (any key cancels), restores, then reboots. Nothing
to decide; when something is wrong, a plain sentence and a key to reboot.
"""

from __future__ import annotations

from typing import Any

import urwid

from oscar.backups import oscarpart
from oscar.backups.manifest import PartEntry
from oscar.backups.store import Entry, Store
from oscar.core import run, safetext, spoken
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
# Rough restore speeds for the time announced to the teacher (docs/performance.md: ntfsclone
# and partclone write about 140 MB/s of used data, fsarchiver 26-116; checksums read first).
WRITE_RATE = 80e6
CHECK_RATE = 200e6


def help_text() -> str:
    return _("restaure puts this PC back as it was when its backup was made. The files created "
             "or changed since then are lost; the backups are kept. When it is done the PC "
             "restarts by itself. If you did not mean to restore, choose \"Restart without "
             "restoring\": nothing is changed.")


def described(entries: list[PartEntry]) -> list[str]:
    """Partitions as a teacher knows them: « Windows (DATA) », « Linux », never sda1."""
    names: list[str] = []
    for entry in entries:
        kind = {"ntfs": "Windows", "vfat": _("start-up files")}.get(
            entry.fstype or "", "Linux" if (entry.fstype or "").startswith(("ext", "xfs", "btrfs"))
            else _("data"))
        label = safetext.shown(entry.label) if entry.label else ""
        name = f"{kind} ({label})" if label and label.casefold() != kind.casefold() else kind
        if name not in names:
            names.append(name)
    return names


def estimated_seconds(entries: list[PartEntry]) -> float:
    used = sum(e.used if e.used is not None else e.size for e in entries)
    stored = sum(e.stored for e in entries)
    return used / WRITE_RATE + stored / CHECK_RATE



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
        self.restart_in = REBOOT_DELAY
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
        """What a teacher needs: when, what comes back, what is lost, how long. No device or
        tool names, no checksums."""
        assert self.restorer is not None
        man = self.restorer.man
        created = spoken.parse_created(man.created)
        when = spoken.date_in_words(created) if created else man.created
        return _("This PC will be put back as it was on {date}.\n\nPut back: {parts}\n"
                 "Time needed: {duration}\n\nFiles created or changed since then on this PC "
                 "will be lost; the backups are kept.").format(
            date=when, parts=", ".join(described(self.restorer.entries)),
            duration=spoken.about_duration(estimated_seconds(self.restorer.entries)))

    def _show_countdown(self) -> None:
        self.text.set_text(self._summary())
        sentence = urwid.Text(("warning", ngettext(
            "The restore starts in {n} second. Press any key to stop it.",
            "The restore starts in {n} seconds. Press any key to stop it.",
            self.remaining).format(n=self.remaining)))
        pile = urwid.Pile([self.text, urwid.Divider(), big_number(self.remaining),
                           urwid.Divider(), sentence])
        widget = _AnyKey(urwid.Filler(urwid.Padding(pile, left=2, right=2), valign="top"),
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
        # The safe button first and focused: the Enter that stopped the countdown, pressed
        # again, must not restore.
        self.app.replace(Screen(_("restaure"), widgets.text_screen(
            self._summary() + "\n\n" + _("The restore was stopped. Nothing has been changed."),
            [(_("Restart without restoring"), self.reboot), (_("Restore now"), self.go)],
            focus=0), on_back=lambda: None, help_text=help_text(),
            keys=_("Arrows: choose  Enter: confirm  F1: help")))

    def go(self) -> None:
        restorer = self.restorer
        assert restorer is not None

        def work(progress: Any) -> Any:
            restorer.progress = progress
            return restorer.run()

        self.app.run_task(_("Restoring this PC"), work, self.done, self.failed,
                          _("Stop the restore? The PC will not start correctly until a restore "
                            "completes."), _("Stop the restore"), plain=True)

    def done(self, _log: Any) -> None:
        self.restart_in = REBOOT_DELAY
        self._show_done()

    def _show_done(self, _loop: object = None, _data: object = None) -> None:
        """« Restarts in 5 seconds », and it counts: 4, 3, 2, 1, then the restart."""
        if self.rebooting:
            return
        if self.restart_in <= 0:
            self.reboot()
            return
        screen = Screen(_("restaure"), widgets.text_screen(
            ngettext("The PC has been restored. It restarts in {n} second.",
                     "The PC has been restored. It restarts in {n} seconds.",
                     self.restart_in).format(n=self.restart_in),
            [(_("Restart"), self.reboot)], style="ok"), on_back=lambda: None,
            keys=_("Enter: restart the PC"))
        if self.restart_in == REBOOT_DELAY:
            self.app.replace(screen)
        else:
            self.app.stack[-1] = screen
            self.app.show_current()
        self.restart_in -= 1
        if self.app.loop is not None:
            self.app.loop.set_alarm_in(1, self._show_done)

    def tick_restart(self) -> None:
        """One second passes after the restore (tests)."""
        self._show_done()

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


# Digits five lines high drawn with the full block only: the console's Lat15 fonts have █ but
# not the half blocks of urwid's big fonts.
DIGITS = {"0": ("###", "# #", "# #", "# #", "###"), "1": (" # ", "## ", " # ", " # ", "###"),
          "2": ("###", "  #", "###", "#  ", "###"), "3": ("###", "  #", " ##", "  #", "###"),
          "4": ("# #", "# #", "###", "  #", "  #"), "5": ("###", "#  ", "###", "  #", "###"),
          "6": ("###", "#  ", "###", "# #", "###"), "7": ("###", "  #", "  #", "  #", "  #"),
          "8": ("###", "# #", "###", "# #", "###"), "9": ("###", "# #", "###", "  #", "###")}


def big_number(number: int) -> urwid.Widget:
    """The countdown in digits five lines high, readable from a chair."""
    lines = ["  ".join(DIGITS[d][row].replace("#", "██").replace(" ", "  ")
                       for d in str(number)) for row in range(5)]
    return urwid.Text("\n".join(lines), align="center")


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
