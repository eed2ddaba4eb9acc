"""Restauration: backup (newest first) → target disk → partitions → plan → confirm (a whole-disk
restore asks to type the disk's name) → progress → result."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from oscar.backups import clonezilla
from oscar.backups.store import Entry, Store
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk, human_size
from oscar.ops.restore.planner import RestoreOptions
from oscar.ops.restore.restorer import Restorer
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows


def backup_line(entry: Entry) -> tuple[str, str]:
    m = entry.manifest
    if m is None:
        return entry.name, f"{entry.state} {entry.problem}"
    date = m.created[:16].replace("T", " ")
    parts = ",".join(str(p.number) for p in m.partitions if p.role == "data")
    state = "" if entry.usable else f"  ({entry.state})"
    source = str(m.source.get("model") or m.source.get("name") or "?")[:16]
    return entry.name, f"{date} {human_size(m.stored_bytes):>9} [{parts}] {source}{state}"


def newest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: e.manifest.created if e.manifest else "", reverse=True)


class RestoreFlow(DiskChoice):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.store: Store | None = None
        self.entry: Entry | None = None
        self.target: Disk | None = None
        self.restorer: Restorer | None = None

    def start(self) -> None:
        self.with_store(self.store_known)

    def store_known(self) -> None:
        try:
            self.store = self.ctx.store()
            entries = newest_first(self.store.entries())
        except OscarError as exc:
            self.app.error(exc)
            return
        if not entries:
            self.app.message(_("Restore"), _("No backup in {root}.").format(root=self.store.root))
            return
        rows = []
        for entry in entries:
            name, summary = backup_line(entry)
            source = entry.manifest.source.get("identity", "?") if entry.manifest else "?"
            rows.append(widgets.MenuRow(name, summary, functools.partial(self.choose_backup, entry),
                                        _("Saved from the disk {identity}.").format(
                                            identity=source)))
        self.app.push(Screen(_("Restore"), widgets.menu_screen(
            _("Which backup do you want to restore? (newest first)"), rows, width=30)))

    def choose_backup(self, entry: Entry) -> None:
        if entry.state == "clonezilla" and entry.manifest is None:
            try:  # described like OSCAR's own backups for the screens that follow
                entry = dataclasses.replace(entry, manifest=clonezilla.load(entry.folder),
                                            state="complete")
            except OscarError as exc:
                self.app.error(exc)
                return
        if not entry.usable or entry.manifest is None or entry.state != "complete":
            self.app.message(_("Restore"), _("The backup '{name}' is not usable ({state}).").format(
                name=entry.name, state=entry.state) + ("\n" + entry.problem if entry.problem else ""))
            return
        self.entry = entry
        self.show_disks()

    def disk_screen(self) -> Screen:
        assert self.entry is not None and self.entry.manifest is not None
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium]
        source = self.entry.manifest.source.get("identity")
        disks.sort(key=lambda d: d.identity != source)  # the disk it was saved from first
        rows = disk_rows(disks, self.choose_disk, _("The disk the backup is written onto."),
                         lambda d: _("(saved from this disk) ") if d.identity == source else "")
        return Screen(_("Target disk"), widgets.menu_screen(
            _("Restore '{name}' onto which disk?").format(name=self.entry.name), rows, width=10),
            on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        assert self.entry is not None and self.entry.manifest is not None
        self.target = disk
        data = [p for p in self.entry.manifest.partitions if p.role == "data"]
        rows = [(f"{p.number}  {p.fstype or '-':<6} {p.label or '-':<12} {human_size(p.size):>9} "
                 f"({p.method})", True, _("Checked partitions are restored.")) for p in data]
        rows.append((_("Also write the saved partition table (whole disk)"), not disk.partitions,
                     _("Rewrites the partition table first: every partition of the disk is "
                       "replaced, except the one holding the backups.")))

        def done(states: list[bool]) -> None:
            numbers = [p.number for p, s in zip(data, states[:-1], strict=True) if s]
            if numbers:
                self.plan(numbers, states[-1])

        widget, _boxes = widgets.checklist_screen(
            _("Partitions to restore onto {disk}:").format(disk=disk.path), rows, done)
        self.app.push(Screen(_("Partitions"), widget, help_text=_(
            "Check the partitions to restore (space toggles a box). Only the checked ones are "
            "written; the others, and the partition holding the backups, are left as they "
            "are. The partition table is written only if its box is checked: needed on a new "
            "or different disk.")))

    def plan(self, numbers: list[int], with_table: bool, layout: str | None = None,
             resize_store: bool = False) -> None:
        assert self.entry is not None and self.target is not None and self.store is not None
        parts = None if with_table else numbers
        if with_table and self.entry.manifest and len(numbers) != len(
                [p for p in self.entry.manifest.partitions if p.role == "data"]):
            parts = numbers

        def restorer_for(shrink_store: bool) -> Restorer:
            assert self.entry is not None and self.target is not None and self.store is not None
            return Restorer(self.target, self.store, RestoreOptions(
                self.entry.name, parts, with_table, layout=layout or "proportional",
                resize_store=shrink_store), NullProgress())

        try:
            restorer = restorer_for(resize_store)
        except OscarError as exc:
            if with_table and not resize_store and self._fits_with_store_shrunk(restorer_for):
                self.ask_shrink_store(numbers, exc)
            else:
                self.app.error(exc)
            return
        if layout is None and restorer.fitted is not None and not restorer.fitted.same:
            self.ask_layout(numbers, restorer, resize_store)
            return
        assert self.entry.manifest is not None
        # The disk's name is typed for a whole-disk write, and for partitions of a disk the
        # backup was not saved from (another PC's disk: one Enter must not erase it).
        own_disk = self.entry.manifest.source.get("identity") == self.target.identity
        typed = self.target.name if with_table or not own_disk else None
        question = (_("Everything on this disk will be replaced (except the backups).")
                    if with_table else _("Everything on these partitions will be replaced."))
        if not own_disk:
            question += " " + _("This backup was not saved from this disk.")
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            restorer.plan.render(), question, lambda: self.execute(restorer), self.app.pop,
            typed=typed)))

    @staticmethod
    def _fits_with_store_shrunk(restorer_for: Any) -> bool:
        try:
            restorer_for(True)
        except OscarError:
            return False
        return True

    def ask_shrink_store(self, numbers: list[int], refusal: OscarError) -> None:
        """Too small with the OSCAR partition at its saved size, but not if it shrinks."""
        text = refusal.message + "\n\n" + _(
            "The OSCAR partition of this disk will be formatted empty (the backups are not on "
            "it). Make it smaller so that the rest fits?")
        self.app.push(Screen(_("Partitions"), widgets.text_screen(text, [
            (_("Shrink the OSCAR partition"),
             lambda: self.plan(numbers, True, None, resize_store=True)),
            (_("Cancel"), self.app.pop)])))

    def ask_layout(self, numbers: list[int], restorer: Restorer,
                   resize_store: bool = False) -> None:
        """The disk is not the saved one's size: how its partitions are laid out."""
        assert self.target is not None
        saved = restorer.man.source.get("size")
        bigger = saved is None or self.target.size >= saved
        choices = [("proportional", _("Proportional"), _("every partition scaled to the disk"))]
        if bigger:
            choices.append(("grow-last", _("Last one grows"),
                            _("the last data partition takes all the extra space")))
        rows = [widgets.MenuRow(label, summary, functools.partial(
            self.plan, numbers, True, layout, resize_store)) for layout, label, summary in choices]
        intro = (_("{disk} is {size}; the backup was saved from a disk of {saved}. The OSCAR "
                   "partition shrinks too. Lay out the partitions:") if resize_store else
                 _("{disk} is {size}; the backup was saved from a disk of {saved}. The OSCAR "
                   "partition keeps its size. Lay out the other partitions:")).format(
            disk=self.target.path, size=human_size(self.target.size),
            saved=human_size(saved) if saved else "?")
        self.app.push(Screen(_("Partitions"), widgets.menu_screen(intro, rows, width=21)))

    def execute(self, restorer: Restorer) -> None:
        self.restorer = restorer

        def work(progress: Any) -> Any:
            restorer.progress = progress
            return restorer.run()

        self.app.run_task(_("Restoring onto {disk}").format(disk=restorer.target.path), work,
                          self.done, self.failed,
                          _("Stop the restore? The partitions being written will be unusable "
                            "until a restore completes."), _("Stop the restore"))

    def failed(self, exc: BaseException) -> None:
        """The error, and after a stop in the middle of a write, what is unusable now."""
        note = self.restorer.interrupted_note() if self.restorer is not None else ""
        if note and isinstance(exc, OscarError):
            exc = OscarError(exc.message + "\n\n" + note, exc.hint)
        super().failed(exc)

    def done(self, log_file: Any) -> None:
        self.app.back_to(self.depth)
        assert self.entry is not None and self.target is not None
        self.app.message(_("Restore"), _("Restore of '{name}' onto {disk} complete.").format(
            name=self.entry.name, disk=self.target.path) + "\n" + _("Log: {path}").format(
            path=log_file), style="ok")
