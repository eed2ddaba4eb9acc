"""Sauvegarde: disk → partitions → method and compression → name → plan → confirm → progress."""

from __future__ import annotations

import datetime
from typing import Any

from oscar.backups import oscarpart
from oscar.backups.store import Store
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.core.progress import NullProgress
from oscar.disks.devices import Disk, human_size
from oscar.engine import computername, dislocker
from oscar.engine.compress import COMPRESSORS
from oscar.ops.save import METHODS, SaveOptions, Saver, store_partition_names
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Context, DiskChoice, disk_rows


def default_name(disk: Disk, today: datetime.date | None = None) -> str:
    """Date + the computer's name (from Windows' registry or /etc/hostname), else the model."""
    day = (today or datetime.date.today()).isoformat()
    name = computername.of_disk(disk) or (disk.model or disk.name)
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return f"{day}-{cleaned or disk.name}"[:100]


class SaveFlow(DiskChoice):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.store: Store | None = None
        self.disk: Disk | None = None
        self.parts: list[int] = []
        self.method = "auto"
        self.compress = "zstd"
        self.keys: list[dislocker.Key] = []

    def start(self) -> None:
        self.with_store(self.store_known)

    def store_known(self) -> None:
        self.store = self.open_store()
        if self.store is None:
            return
        self.show_disks()

    def disk_screen(self) -> Screen:
        """The disks that can be saved, probed now (again when a disk is plugged in)."""
        disks = [d for d in self.ctx.disks() if not d.is_boot_medium and d.partitions]
        rows = disk_rows(disks, self.choose_disk, _("Save this disk's partitions."))
        intro = (_("Which disk do you want to save?") if rows
                 else _("No disk with partitions to save was found.") + " " +
                 _("Plug one in: this list follows the disks plugged and unplugged."))
        return Screen(_("Save"), widgets.menu_screen(intro, rows, width=10),
                      help_text=_("Choose the disk of the PC to save. The disk OSCAR started "
                                  "from is not listed."),
                      on_disks_changed=self.refresh_disks)

    def choose_disk(self, disk: Disk) -> None:
        assert self.store is not None
        self.disk = disk
        skip = store_partition_names(self.store)
        rows = []
        numbers = []
        for p in disk.partitions:
            if p.name in skip or p.is_swap or oscarpart.is_oscar_partition(p):
                continue  # the store is never saved into itself (the CLI's --parts can)
            checked = (p.known_fs or p.encrypted) and not (p.label == "OSCAR")
            used = " " + _("used") + " " + human_size(p.used) if p.used else ""
            rows.append((f"{p.number}  {p.fstype or '-':<6} {p.label or '-':<12} "
                         f"{human_size(p.size):>9}{used}", checked,
                         _("Checked partitions are saved; swap is recorded, not saved.")))
            numbers.append(p.number)

        def done(states: list[bool]) -> None:
            self.parts = [n for n, s in zip(numbers, states, strict=True) if s]
            if not self.parts:
                return
            self.ask_bitlocker_key(disk)

        widget, _boxes = widgets.checklist_screen(
            _("Partitions of {disk} to save (space: check or uncheck):").format(disk=disk.path),
            rows, done)
        self.app.push(Screen(_("Partitions"), widget))

    def ask_bitlocker_key(self, disk: Disk) -> None:
        """A chosen BitLocker partition: its key (saved decrypted), or nothing (copied raw)."""
        self.keys, self.method = [], "auto"
        locked = [p for p in disk.partitions if p.number in self.parts and p.encrypted
                  and not (p.bitlocker and p.bitlocker.unlocked_without_key)]
        if not locked:
            self.options()
            return
        part = locked[0]
        key_id = (part.bitlocker.recovery_key_id if part.bitlocker else None) or "?"
        intro = _("Partition {n} is encrypted with BitLocker (recovery key ID {id}). Type its "
                  "recovery key (48 digits) or its password: it is saved decrypted, compressed, "
                  "and can be deployed. The key is kept nowhere.\n\nLeave it empty to copy the "
                  "partition as it is, every sector ({size}): that copy restores onto this PC "
                  "only.").format(n=part.number, id=key_id, size=human_size(part.size))

        def typed(text: str) -> None:
            if not text.strip():
                self.method = "raw"
            else:
                try:
                    self.keys = [dislocker.typed_key(text)]
                except OscarError as exc:
                    self.app.error(exc)
                    return
            self.options()

        self.app.push(Screen(_("BitLocker"), widgets.secret_screen(
            intro, _("Recovery key or password: "), typed),
            help_text=_("The recovery key is in the Microsoft account of the PC's owner, or in "
                        "the school's Active Directory, under the recovery key ID shown.")))

    def options(self) -> None:
        assert self.disk is not None
        fields = [
            widgets.Field("method", _("Method"), self.method,
                          [(m, m if m != "auto" else _("auto (the fastest for each filesystem)"))
                           for m in METHODS if m != "raw" or self.method == "raw"]),
            widgets.Field("compress", _("Compression"), self.compress,
                          [(c, c) for c in COMPRESSORS]),
            widgets.Field("name", _("Backup name"), default_name(self.disk)),
        ]
        self.app.push(Screen(_("Options"), widgets.form_screen(
            _("Method, compression and name of the backup:"), fields, self.plan),
            help_text=_("auto: ntfsclone for NTFS, partclone for ext4 and the other known "
                        "filesystems, fsarchiver otherwise. zstd compresses fast and well.")))

    def plan(self, values: dict[str, str]) -> None:
        assert self.disk is not None and self.store is not None
        self.method, self.compress = values["method"], values["compress"]
        opts = SaveOptions(values["name"].strip(), self.parts, self.method, self.compress,
                           bitlocker_keys=self.keys)
        try:
            saver = Saver(self.disk, self.store, opts, NullProgress())
        except OscarError as exc:
            self.app.error(exc)
            return
        if (self.store.root / opts.name).exists():
            saver.plan.warnings.append(_("the backup '{name}' exists and will be replaced once "
                                         "the new one is complete").format(name=opts.name))
        self.app.push(Screen(_("Confirm"), widgets.confirm_screen(
            saver.plan.render(), _("Start the save?"), lambda: self.execute(saver),
            self.app.pop)))

    def execute(self, saver: Saver) -> None:
        def work(progress: Any) -> Any:
            saver.progress = progress
            return saver.run()

        self.app.run_task(_("Saving {disk}").format(disk=saver.disk.path), work, self.done,
                          self.failed, _("Stop the save? The backup will not be made; the "
                                         "other backups stay as they are."),
                          _("Stop the save"))

    def done(self, folder: Any) -> None:
        self.app.back_to(self.depth)
        self.app.message(_("Save"), _("Backup complete and verified: {folder}").format(
            folder=folder), style="ok")
