"""What the flows share: the app, the configuration, and where the backups are."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import urwid

from oscar.backups import oscarpart, usbstore
from oscar.backups.store import Store
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.disks import probe
from oscar.disks.devices import Disk, human_size
from oscar.ui.tui import widgets
from oscar.ui.tui.app import App, Screen


@dataclass
class Context:
    app: App
    store_path: Path | None = None  # --store, or the config's store; None: the OSCAR partition
    machine: list[Disk] | None = None  # a saved machine description instead of probing (guide)
    store_asked: bool = False  # store_path is the answer to "Where are the backups?"

    def store(self, disks: list[Disk] | None = None) -> Store:
        """The backup store, mounting the PC's OSCAR partition when none was given."""
        if self.store_path is None:
            disks = disks if disks is not None else (self.machine or probe.probe_all(
                with_usage=False))
            _disk, part = oscarpart.require(disks)
            self.store_path = oscarpart.mount(part)
        store = Store(self.store_path)
        store.check_exists()
        return store

    def disks(self) -> list[Disk]:
        if self.machine is not None:
            return self.machine
        paths = [str(self.store_path)] if self.store_path else []
        return probe.probe_all(store_paths=paths)


def disk_line(disk: Disk) -> tuple[str, str]:
    marks = []
    if disk.holds_store:
        marks.append(_("holds the backups"))
    if disk.is_boot_medium:
        marks.append(_("boot medium"))
    parts = ", ".join(f"{p.number}:{p.fstype or '-'}" for p in disk.partitions) or _("no partition")
    summary = f"{human_size(disk.size):>9} {disk.table_label:<4} {disk.model or disk.identity}"
    summary += f"  [{parts}]"
    if marks:
        summary += " (" + ", ".join(marks) + ")"
    return disk.name, summary


def identity_help(disk: Disk) -> str:
    """What F1 adds on a disk: how OSCAR recognises it, whatever its /dev name."""
    return _("Identity: {identity}; model {model}; {size}.").format(
        identity=disk.identity, model=disk.model or "-", size=human_size(disk.size))


def disk_rows(disks: list[Disk], choose: Callable[[Disk], None], help_text: str,
              note: Callable[[Disk], str] | None = None) -> list[widgets.MenuRow]:
    """One row per disk (name, size, table, model, partitions); F1 adds its identity."""
    rows = []
    for disk in disks:
        label, summary = disk_line(disk)
        if note is not None:
            summary = note(disk) + summary
        rows.append(widgets.MenuRow(label, summary, functools.partial(choose, disk),
                                    help_text + " " + identity_help(disk), key=disk.identity))
    return rows


class Flow:
    """A sequence of screens started from a menu item; on failure, back to that item."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.depth = len(self.app.stack)

    def failed(self, exc: BaseException) -> None:
        self.app.back_to(self.depth)
        self.app.error(exc)

    def with_store(self, then: Callable[[], None]) -> None:
        """Ask where the backups are when there is a choice (the PC's OSCAR partition, an OSCAR
        USB disk's OSCAR-SAVE and OSCAR-ECOLE), then call ``then``; ``--store`` or the
        configuration's store means no question. Asked again by each flow: a USB disk may
        have been plugged in or out since."""
        if self.ctx.store_asked:
            self.ctx.store_path, self.ctx.store_asked = None, False
        if self.ctx.store_path is not None:
            then()
            return
        try:
            disks = self.ctx.machine or probe.probe_all(with_usage=False)
        except OscarError as exc:
            self.app.error(exc)
            return
        rows = []
        found = oscarpart.find(disks)
        # Several OSCAR partitions and none that OSCAR started from: each is offered, never
        # one guessed.
        for _disk, part in [found] if found is not None else oscarpart.candidates(disks):
            rows.append(widgets.MenuRow(
                _("This PC") if found is not None else f"OSCAR {part.name}",
                _("the OSCAR partition ({dev})").format(dev=part.name),
                functools.partial(self._store_chosen, functools.partial(oscarpart.mount, part),
                                  then)))
        for usb in usbstore.find(disks):
            text = (_("{label} on the USB disk ({dev}): a PC's backups") if usb.role == "save"
                    else _("{label} on the USB disk ({dev}): the school's backups (NTFS)"))
            rows.append(widgets.MenuRow(
                usb.label, text.format(label=usb.label, dev=usb.part.name),
                functools.partial(self._store_chosen, functools.partial(usbstore.mount, usb),
                                  then)))
        if len(rows) < 2:
            then()  # nothing to choose: the PC's OSCAR partition, or its error
            return
        self.app.push(Screen(_("Backups"), widgets.menu_screen(
            _("Where are the backups?"), rows, width=16)))

    def _store_chosen(self, mount: Callable[[], Path], then: Callable[[], None]) -> None:
        try:
            self.ctx.store_path = mount()
        except OscarError as exc:
            self.app.error(exc)
            return
        self.ctx.store_asked = True
        then()

    def open_store(self) -> Store | None:
        """The backup store, or None once its error is on the screen."""
        try:
            return self.ctx.store()
        except OscarError as exc:
            self.app.error(exc)
            return None


class DiskChoice(Flow):
    """A flow with a screen listing disks: it is drawn again when a disk is plugged in or
    unplugged (App.disks_changed)."""

    def disk_screen(self) -> Screen:
        raise NotImplementedError

    def show_disks(self) -> None:
        try:
            screen = self.disk_screen()
        except OscarError as exc:
            self.app.error(exc)
            return
        self.app.push(screen)

    def refresh_disks(self) -> None:
        """The list again; the cursor stays on the disk it was on (by identity, not by row: the
        same keys a moment later must not land on another disk), and a line says it changed."""
        before = self.app.current.widget
        try:
            screen = self.disk_screen()
        except OscarError as exc:
            self.app.error(exc)
            return
        after = screen.widget
        if isinstance(before, widgets.MenuList) and isinstance(after, widgets.MenuList):
            focused = before.focused_key()
            if before.keys() != after.keys():
                gone = focused and focused not in after.keys()
                after.body.insert(0, urwid.Text(("warning", _(
                    "The list changed: the disk you were on was unplugged.") if gone else _(
                    "The list changed: a disk was plugged in or unplugged."))))
            if not after.focus_key(focused) and focused:
                # The chosen disk is gone: no row is under the cursor until one is chosen.
                after.set_focus(0)
        self.app.replace(screen)
