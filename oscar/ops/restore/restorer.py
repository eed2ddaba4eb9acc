"""Restauration: write a verified backup back onto a disk chosen by identity."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from oscar.backups import checksums, clonezilla, manifest, methods
from oscar.backups.manifest import Manifest, PartEntry
from oscar.backups.store import Store
from oscar.core import oplog, run, tools
from oscar.core.errors import BackupInvalid, OscarError, TargetRefused, UsageError
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.disks import disklock, probe
from oscar.disks.devices import Disk, Partition, human_size, partition_path
from oscar.engine import bcd, fit, fsarchiver, fsresize, mkfs, mount, ntfs, ptable, scratch
from oscar.ops import bootinstall, safety
from oscar.ops import plan as planning
from oscar.ops.restore import imagewrite, retarget, shrinkscratch
from oscar.ops.save import store_partition_names
from oscar.ops.verify import check_clonezilla, check_headers, check_integrity, fill_used

log = logging.getLogger("oscar.restore")
FSARCHIVER_MARGIN = 1.1  # a file-level restore needs the data plus filesystem overhead
TABLE_FILE_MAX = 4 << 20  # the largest table file (sectors after the MBR: 1 MiB)


def read_limited(path: Path, limit: int) -> bytes:
    """A small file of the backup, refused when larger than ``limit`` (never read whole)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise BackupInvalid(_("{file} is missing.").format(file=path.name),
                            _("The backup is incomplete; use another copy.")) from exc
    if len(data) > limit:
        raise BackupInvalid(_("{file} is too large for what it should hold.").format(
            file=path.name), _("The backup is damaged; use another copy."))
    return data


@dataclass
class RestoreOptions:
    name: str
    parts: list[int] | None = None
    with_table: bool = False
    format_only: bool = False  # format the partitions empty instead of restoring them
    # Other backup folders whose partitions are kept as they are (a deployment client's own
    # OSCAR partition, while the backup itself arrives from the network).
    keep_paths: list[str] = field(default_factory=list)
    # With the table, on a disk of another size: how the saved layout is fitted (fit.LAYOUTS),
    # and whether the OSCAR partition may change size too.
    layout: str = "proportional"
    resize_store: bool = False
    # a client of a deployment: its refusals are told to the person at the server, whose
    # choices are the room's PCs and the model, not restore's options
    deployment: bool = False


class ImageSource(Protocol):
    """Where the images' bytes come from: the backup folder, or a deployment's network."""

    def verify(self, restorer: Restorer) -> dict[str, str]:
        """Check all that can be checked before the first write; return the checksums."""

    def size(self, files: list[str]) -> int: ...

    def chunks(self, files: list[str]) -> Iterator[bytes]:
        """The files' bytes in order; raises BackupInvalid at the end of a file whose checksum
        differs (the pipeline writing it is then killed and the partition reported failed)."""

    def local_file(self, name: str) -> Path:
        """A verified local copy of the file (fsarchiver reads a file, not a pipe)."""


class FolderSource:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sums: dict[str, str] = {}

    def verify(self, restorer: Restorer) -> dict[str, str]:
        if restorer.clonezilla:
            self.sums, _used = check_clonezilla(self.folder, restorer.man, restorer.progress)
        else:
            self.sums = check_integrity(self.folder, restorer.man, restorer.progress)
        infos = check_headers(self.folder, restorer.man, self.sums, restorer.entries)
        for entry in restorer.entries:
            info = infos.get(entry.number)
            current = restorer.target.partition(entry.number)
            if info is not None and current is not None and not restorer.opts.with_table \
                    and current.size < info.device_size:
                raise TargetRefused(
                    _("Partition {dev} is too small: {have}, needs {need}.").format(
                        dev=current.path, have=human_size(current.size),
                        need=human_size(info.device_size)),
                    _("Restore with --with-table, or onto a bigger partition."))
        return self.sums

    def size(self, files: list[str]) -> int:
        return sum((self.folder / f).stat().st_size for f in files)

    def chunks(self, files: list[str]) -> Iterator[bytes]:
        return iter(checksums.HashingReader([self.folder / f for f in files], self.sums))

    def local_file(self, name: str) -> Path:
        return self.folder / name


def selected_entries(man: Manifest, parts: list[int] | None) -> list[PartEntry]:
    data = [p for p in man.partitions if p.role == "data"]
    if parts is None:
        return data
    by_number = {p.number: p for p in man.partitions}
    chosen = []
    for number in parts:
        entry = by_number.get(number)
        if entry is None or entry.role != "data":
            raise UsageError(_("The backup has no saved partition {n}.").format(n=number),
                             _("Saved partitions: {list}.").format(
                                 list=", ".join(str(p.number) for p in data)))
        chosen.append(entry)
    return chosen


def needed_size(entry: PartEntry) -> int:
    if entry.method == "fsarchiver":
        return int((entry.used or entry.size) * FSARCHIVER_MARGIN)
    return entry.size


def check_target(target: Disk, man: Manifest, entries: list[PartEntry], with_table: bool,
                 store_parts: set[str], table: ptable.SfTable | None,
                 format_only: bool = False) -> None:
    """Every reason to refuse the target, before anything is written (pure)."""
    safety.refuse_boot_medium(target)
    kept = [p for p in target.partitions if p.name in store_parts]
    retarget.check_sector_size(man, entries, target, format_only)
    if with_table:
        assert table is not None  # already fitted to the target (fit.fit refuses what cannot)
        ptable.check_keeps(table, [(p.number, p.start, p.size) for p in kept])
        safety.refuse_busy(target.partitions, _("Unmount it before rewriting the partition "
                                                "table."), spared=frozenset(store_parts))
        for entry in entries:
            if any(k.number == entry.number for k in kept):
                raise TargetRefused(
                    _("Partition {n} of {disk} holds the backups and cannot be "
                      "overwritten.").format(n=entry.number, disk=target.path),
                    _("Restore the other partitions only (--parts)."))
        return
    if not target.partitions:
        raise TargetRefused(_("{disk} has no partitions to restore into.").format(
            disk=target.path), _("Add --with-table to write the saved partition table first."))
    for entry in entries:
        found = target.partition(entry.number)
        if found is None:
            raise TargetRefused(_("{disk} has no partition {n}.").format(
                disk=target.path, n=entry.number),
                _("Add --with-table to write the saved partition table first."))
        check_partition(found, entry, store_parts)


def check_partition(part: Partition, entry: PartEntry, store_parts: set[str],
                    need: int | None = None) -> None:
    if part.name in store_parts:
        raise TargetRefused(_("Partition {dev} holds the backups and cannot be "
                              "overwritten.").format(dev=part.path),
                            _("Restore the other partitions only (--parts)."))
    safety.refuse_busy([part])
    need = needed_size(entry) if need is None else need
    if part.size < need:
        if entry.method in retarget.BLOCK:
            hint = _("It was saved block by block ({method}): restore with --with-table, which "
                     "shrinks it, or save it at file level (--method fsarchiver).").format(
                method=entry.method)
        else:
            hint = _("Restore with --with-table, or onto a bigger partition.")
        raise TargetRefused(
            _("Partition {dev} is too small: {have}, needs {need}.").format(
                dev=part.path, have=human_size(part.size), need=human_size(need)), hint)


class Restorer:
    def __init__(self, target: Disk, store: Store, opts: RestoreOptions, progress: Progress,
                 source: ImageSource | None = None) -> None:
        self.store = store
        self.opts = opts
        self.progress = progress
        entry = store.get(opts.name)
        self.folder: Path = entry.folder
        if entry.state == "clonezilla":
            self.man: Manifest = clonezilla.load(entry.folder)
            fill_used(entry.folder, self.man)
        elif entry.state == "damaged":
            raise BackupInvalid(_("The backup '{name}' is not usable ({state}).").format(
                name=opts.name, state=entry.state), entry.problem or _("Choose another backup."))
        elif entry.state != "complete" or entry.manifest is None:
            raise UsageError(_("The backup '{name}' is not usable ({state}).").format(
                name=opts.name, state=entry.state), entry.problem or _("Choose another backup."))
        else:
            self.man = entry.manifest
        self.clonezilla = entry.state == "clonezilla"
        self.target = target
        self.confirmed_holds_store = target.holds_store
        self.store_paths = [str(store.root), *opts.keep_paths]
        self.store_parts = store_partition_names(store)
        for path in opts.keep_paths:
            self.store_parts |= store_partition_names(Store(path))
        self.source: ImageSource = source or FolderSource(self.folder)
        self.entries = selected_entries(self.man, opts.parts)
        self.table: ptable.SfTable | None = None
        self.fitted: fit.Fitted | None = None
        self.resizes = retarget.Resizes()
        self.shrunk: shrinkscratch.ShrunkImages | None = None
        try:
            if opts.with_table:
                self.fitted = self._fit(self._saved_table(check=False).table)
                self.table = self.fitted.table
            check_target(target, self.man, self.entries, opts.with_table, self.store_parts,
                         self.table, opts.format_only)
        except TargetRefused as exc:
            if not opts.deployment:
                raise
            raise TargetRefused(exc.message, _(
                "This PC cannot take this backup as it is: deploy it onto PCs whose disk fits, "
                "use the procedure formate (it fits the partitions to each disk), or make the "
                "model's partitions smaller and save it again.")) from exc
        self.sums: dict[str, str] = {}
        # OSCAR's boot menu on this disk names the restored systems' kernels and lives partly
        # on partitions a restore may replace (the EFI partition, the sectors after the MBR):
        # it is written again after the restore.
        self.boot_menu = bootinstall.installed_on(target) is not None
        self.plan = self._plan()

    def _saved_table(self, *, check: bool) -> ptable.SavedTable:
        """The table files the manifest lists (a name it does not list is never read: only
        listed files are covered by the checksums). ``check``: each file's bytes, read now,
        must be the ones verified (what is written to the disk is what was checked)."""
        def damaged(field_name: str, reason: str) -> BackupInvalid:
            return manifest.damaged_field(self.folder, field_name, reason, _(
                "Restore without --with-table, or restore another backup."))

        def read(suffix: str, *, required: bool) -> bytes | None:
            name = self.man.table_file(suffix)
            if name is None:
                if required:
                    raise damaged("table_files", _("no {file}").format(
                        file=f"{self.man.source['name']}{suffix}"))
                return None
            data = read_limited(self.folder / name, TABLE_FILE_MAX)
            if check and checksums.digest(data) != self.sums.get(name):
                raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=name),
                                    _("The backup is damaged; use another copy."))
            return data

        sf_text = read("-pt.sf", required=True)
        mbr = read("-mbr", required=True)
        assert sf_text is not None and mbr is not None
        if len(mbr) != ptable.MBR_SIZE:
            raise damaged(f"{self.man.source['name']}-mbr",
                          _("not {n} bytes").format(n=ptable.MBR_SIZE))
        try:
            table = ptable.parse_sf(sf_text.decode("utf-8"))
        except (UnicodeDecodeError, OscarError) as exc:
            raise damaged(f"{self.man.source['name']}-pt.sf",
                          _("not a partition table")) from exc
        return ptable.SavedTable(table, mbr, read("-hidden-data-after-mbr", required=False))

    def _fit(self, saved: ptable.SfTable) -> fit.Fitted:
        t = self.target
        if self.opts.layout not in fit.LAYOUTS:
            raise UsageError(_("Unknown layout '{name}'.").format(name=self.opts.layout),
                             _("Choose one of: {choices}.").format(choices=", ".join(fit.LAYOUTS)))
        restored = set() if self.opts.format_only else {e.number for e in self.entries}
        needs = retarget.part_needs(self.man, restored,
                                    resize_store=self.opts.resize_store and not t.holds_store)
        if t.holds_store:
            needs = {}  # the OSCAR partition on this disk stays where it is: nothing moves
        fitted = fit.fit(saved, source_bytes=self.man.source.get("size"), disk_bytes=t.size,
                         sector=t.sector_size, needs=needs, layout=self.opts.layout,
                         keep_start=retarget.kept_starts(self.man))
        if not self.opts.format_only:
            self.resizes = retarget.resizes(self.man, self.entries, fitted, t.size,
                                            t.sector_size,
                                            scratch_ok=isinstance(self.source, FolderSource))
        if self.resizes.scratch:
            self.shrunk = shrinkscratch.ShrunkImages(self._scratch_folder())
        return fitted

    def _scratch_folder(self) -> Path:
        shrinking = [e for e in self.entries if e.number in self.resizes.scratch]
        data = shrinkscratch.data_bytes(shrinking)
        folder = scratch.pick_folder([self.store.root, Path(tempfile.gettempdir())], data)
        if folder is None:
            need = int(data * 1.1) + scratch.MARGIN
            raise TargetRefused(
                _("Partition {n} must be shrunk before it fits on this disk, in a file that "
                  "needs {need} free; neither the backups' folder nor the memory has that "
                  "much.").format(n=shrinking[0].number, need=human_size(need)),
                _("Free space beside the backups, shrink that partition on the model before "
                  "saving, or save it at file level (--method fsarchiver)."))
        return folder

    def _table_step(self, table: ptable.SfTable, label: str) -> planning.Step:
        return planning.Step("write-table", label, writes=self.target.path,
                             params={"table": table})

    def _table_steps(self, plan: planning.Plan) -> None:
        """Partition table and restores, in the manifest's order (a deployment's stream): a
        block image that shrinks is restored into a temporary table where its partition has
        its saved size, shrunk, and the next table cuts the partition."""
        assert self.fitted is not None
        final = self.fitted.table
        label = final.label.upper()
        written: ptable.SfTable | None = None
        for entry in self.entries:
            if self.opts.format_only:
                break
            shrink_to = self.resizes.shrink.get(entry.number)
            if shrink_to is not None:
                stage = fit.with_size(final, entry.number, entry.size, drop_after=True)
                plan.steps.append(self._table_step(stage, _(
                    "Write the partition table ({label}) with partition {n} at its saved size "
                    "{size}").format(label=label, n=entry.number, size=human_size(entry.size))))
                written = stage
            elif written is not final:
                plan.steps.append(self._table_step(final, self._table_label(label)))
                written = final
            plan.steps.append(self._restore_step(entry))
            if shrink_to is not None:
                plan.steps.append(planning.Step(
                    "resize-fs", _("Shrink the filesystem of partition {n} to {size}").format(
                        n=entry.number, size=human_size(shrink_to)),
                    writes=self._part_path(entry.number),
                    params={"number": entry.number, "size": shrink_to}))
            elif entry.number in self.resizes.grow:
                plan.steps.append(self._grow_step(entry))
        if written is not final:
            plan.steps.append(self._table_step(final, self._table_label(label)))
        if self.opts.format_only:
            for entry in self.entries:
                plan.steps.append(self._format_step(entry))

    def _table_label(self, label: str) -> str:
        if self.fitted is not None and not self.fitted.same:
            return _("Write the partition table ({label}), fitted to this disk").format(
                label=label)
        return _("Write the saved partition table ({label})").format(label=label)

    def _restore_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "restore-part", _("Restore partition {n} ({fs}, {label}) from {method}").format(
                n=entry.number, fs=entry.fstype, label=entry.label or "-",
                method=entry.method), writes=self._part_path(entry.number),
            size=entry.used or entry.size, params={"number": entry.number})

    def _format_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "format-part", _("Format partition {n} ({fs}, {label}), empty").format(
                n=entry.number, fs=entry.fstype, label=entry.label or "-"),
            writes=self._part_path(entry.number), params={"number": entry.number})

    def _grow_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "resize-fs", _("Grow the filesystem of partition {n} to fill it").format(
                n=entry.number), writes=self._part_path(entry.number),
            params={"number": entry.number, "size": None})

    def _plan(self) -> planning.Plan:
        t = self.target
        plan = planning.Plan(_("Restore '{name}' onto {disk}").format(
            name=self.man.name, disk=t.path), t.identity, t.path, t.size)
        if isinstance(self.source, FolderSource) and self.clonezilla:
            sums = clonezilla.read_sums(self.folder)
            plan.steps.append(planning.Step("verify", _(
                "Verify the Clonezilla image with {files}").format(files=", ".join(sums)) if sums
                else _("Decode every image of the Clonezilla image (it has no checksum file)"),
                size=self.man.stored_bytes))
        elif isinstance(self.source, FolderSource):
            plan.steps.append(planning.Step("verify", _("Verify every checksum of the backup"),
                                            size=self.man.stored_bytes))
        else:
            plan.steps.append(planning.Step("verify", _(
                "Check the partition table and the manifest received; every image is checked "
                "as it arrives")))
        for number, size in self.resizes.scratch.items():
            assert self.shrunk is not None
            plan.steps.append(planning.Step("shrink-scratch", _(
                "Restore partition {n} into a file in {folder} and shrink it to {size} (nothing "
                "is written to the disk yet)").format(n=number, folder=self.shrunk.folder,
                                                      size=human_size(size)),
                params={"number": number, "size": size}))
        if self.fitted is not None and not self.fitted.same:
            labels = {e.number: f"({e.fstype or e.role}, {e.label or '-'})"
                      for e in self.man.partitions}
            plan.details += fit.describe(self.fitted, labels)
        if self.opts.with_table:
            self._table_steps(plan)
        else:
            for entry in self.entries:
                if self.opts.format_only:
                    plan.steps.append(self._format_step(entry))
                    continue
                plan.steps.append(self._restore_step(entry))
                part = t.partition(entry.number)
                if entry.method in retarget.BLOCK and fsresize.can_resize(entry.fstype) \
                        and part is not None and part.size > entry.size:
                    plan.steps.append(self._grow_step(entry))
        if self.opts.with_table:
            for entry in self.man.partitions:
                if entry.role == "swap":
                    plan.steps.append(planning.Step(
                        "make-swap", _("Recreate swap on partition {n}").format(n=entry.number),
                        writes=self._part_path(entry.number), params={"number": entry.number}))
                elif entry.role == "store" and not self.target.holds_store:
                    plan.steps.append(planning.Step(
                        "prepare-store", _("Format partition {n} as the OSCAR partition if it is "
                                           "blank").format(n=entry.number),
                        writes=self._part_path(entry.number), params={"number": entry.number}))
        if self._windows_on_mbr():
            plan.steps.append(planning.Step("check-boot-config", _(
                "Check Windows' boot configuration (BCD) against the partitions")))
        if self.boot_menu:
            plan.steps.append(planning.Step("boot-menu", _(
                "Write OSCAR's boot menu again, for the restored systems"), writes=t.path))
        for entry in self.man.partitions:
            if entry.role == "store" and self.target.holds_store:
                plan.warnings.append(_("partition {n} holds the backups and is kept as it "
                                       "is").format(n=entry.number))
        return plan

    def _part_path(self, number: int) -> str:
        return partition_path(self.target.path, number)

    def required_tools(self) -> list[str]:
        needed = ["sfdisk", "blockdev", "partx"] if self.opts.with_table else []
        for e in self.entries:
            if self.opts.format_only:
                needed.append(mkfs.mkfs_argv(e.fstype or "", "-", label=None, uuid=None)[0])
            else:
                needed += methods.tools_for(e, saving=False)
            if e.fstype == "ntfs":
                needed.append("partclone.ntfsfixboot")
        if any(e.role == "swap" for e in self.man.partitions):
            needed.append("mkswap")
        return needed

    def run(self) -> Path:
        """Execute the plan; returns the log file kept under the backup's logs/ folder."""
        tools.require_all(self.required_tools())
        log_path = oplog.restore_log_path(self.folder, self.target.name)
        with disklock.locked(self.target), oplog.logging_to(log_path):
            log.info("restoring '%s' (%s) onto %s (%s), parts %s, with table: %s",
                     self.man.name, self.folder, self.target.path, self.target.identity,
                     [e.number for e in self.entries], self.opts.with_table)
            try:
                planning.execute(self.plan, {
                    "verify": self._verify,
                    "write-table": self._write_table,
                    "restore-part": self._restore_part,
                    "format-part": self._format_part,
                    "resize-fs": self._resize_fs,
                    "shrink-scratch": self._shrink_scratch,
                    "make-swap": self._make_swap,
                    "prepare-store": self._prepare_store,
                    "boot-menu": self._boot_menu,
                    "check-boot-config": self._check_boot_config,
                }, self._check, self.progress.step, store_paths=self.store_paths)
            except BaseException as exc:
                log.error("restore failed: %s", getattr(exc, "message", None) or repr(exc))
                raise
            finally:
                if self.shrunk is not None:
                    self.shrunk.close()
            log.info("restore complete")
        oplog.fsync_quietly(log_path)
        return log_path

    def _check(self, step: planning.Step, disk: Disk) -> None:
        """Right before writing (the disk found again): still holding the backups or not, as
        confirmed; then what this step writes."""
        if disk.holds_store != self.confirmed_holds_store:
            raise TargetRefused(
                _("The disk {identity} is not in the state that was confirmed.").format(
                    identity=self.plan.disk_identity), _("Check the disks and start again."))
        self.target = disk
        if step.action == "boot-menu":
            step.writes = disk.path  # the Installer guards each of its own writes
            return
        if step.action == "write-table":
            kept = [p for p in disk.partitions if p.name in self.store_parts]
            ptable.check_keeps(step.params["table"], [(p.number, p.start, p.size) for p in kept])
            safety.refuse_busy(disk.partitions, spared=frozenset(self.store_parts))
            step.writes = disk.path
            return
        number = step.params["number"]
        part = disk.partition(number)
        if part is None:
            raise TargetRefused(_("{disk} has no partition {n}.").format(disk=disk.path, n=number),
                                _("Add --with-table to write the saved partition table first."))
        entry = self.man.part(number)
        assert entry is not None
        if step.action == "restore-part":
            # a shrinking block image is restored into its partition at the saved size
            need = (entry.size if entry.number in self.resizes.shrink
                    else self.resizes.scratch.get(entry.number))
            check_partition(part, entry, self.store_parts, need)
        elif step.action == "format-part":
            check_partition(part, entry, self.store_parts)
        elif part.name in self.store_parts or part.in_use:
            raise TargetRefused(_("Partition {dev} is in use.").format(dev=part.path),
                                _("Unmount it first."))
        ptable.ensure_node(part.path)
        step.writes = part.path

    def _verify(self, step: planning.Step) -> None:
        self.sums = self.source.verify(self)

    def _write_table(self, step: planning.Step) -> None:
        self.progress.message(_("Writing the partition table on {disk}").format(disk=step.writes))
        ptable.write(self.target, self._saved_table(check=True), step.params["table"],
                     in_use=any(p.in_use for p in self.target.partitions),
                     same=self.fitted is not None and self.fitted.same)
        # A disk known by no serial (a virtual disk, some USB adapters) is identified by its
        # table's UUID or its path: the table just written changed that identity. Found again
        # at the path written a moment ago, under this restore's lock, it keeps being guarded.
        written = probe.resolve_disk(self.target.path, store_paths=self.store_paths,
                                     with_usage=False)
        if written.identity != self.plan.disk_identity and written.size == self.plan.disk_size:
            log.info("disk %s is now %s (new partition table)", self.plan.disk_identity,
                     written.identity)
            self.plan.disk_identity = written.identity

    def _restore_part(self, step: planning.Step) -> None:
        assert step.writes is not None
        entry = self.man.part(step.params["number"])
        assert entry is not None
        device = step.writes
        total = self.source.size(entry.files) or 1
        self.progress.start(_("partition {n} ({fs})").format(n=entry.number, fs=entry.fstype),
                            entry.used or entry.size)
        if entry.method == "fsarchiver":
            def on_line(line: str) -> None:
                value = fsarchiver.parse_percent(line)
                if value is not None:
                    self.progress.update(value / 100)

            archive = self.source.local_file(entry.files[0])
            run.run(fsarchiver.restore_argv(str(archive), device, fstype=entry.fstype,
                                            sector=self.target.sector_size), on_line=on_line)
            if entry.fstype == "ntfs":
                # fsarchiver's mkntfs leaves an alternate boot sector ntfsfix calls bad.
                ntfs.copy_boot_sector_to_backup(device)
        elif self.shrunk is not None and entry.number in self.shrunk.files:
            self.shrunk.copy_to(entry, device)
        else:
            imagewrite.write_block_image(entry, device, iter(self.source.chunks(entry.files)),
                                         total, self.progress.update)
        self.progress.finish()
        self._fix_ntfs_start(entry, device)
        log.info("partition %s restored onto %s", entry.name, device)

    def _windows_on_mbr(self) -> bool:
        label = self.table.label if self.table is not None else self.target.pttype
        return (label == "dos" and not self.opts.format_only
                and any(e.fstype == "ntfs" for e in self.entries))

    def _check_boot_config(self, step: planning.Step) -> None:
        """Windows' BCD store names its partitions, on an MBR disk, by disk signature and byte
        offset: each one it names on this disk must start where it says (OSCAR keeps the start
        of NTFS partitions on MBR disks; this proves it on the restored files)."""
        with open(self.target.path, "rb") as fh:
            signature = int.from_bytes(fh.read(512)[440:444], "little")
        starts = {start * 512 for start, _size in
                  ptable.kernel_partitions(self.target.path).values()}
        for entry in self.entries:
            if entry.fstype != "ntfs":
                continue
            try:
                with mount.mounted(self._part_path(entry.number), "ntfs",
                                   readonly=True) as root:
                    stores = [root / name for name in ("Boot/BCD", "boot/BCD", "BOOT/BCD")
                              if (root / name).is_file()]
                    refs = bcd.mbr_references(stores[0]) if stores else []
            except (OscarError, RuntimeError, OSError) as exc:  # hivex raises RuntimeError
                log.warning("boot configuration of partition %d not read: %s", entry.number,
                            getattr(exc, "message", exc))
                continue
            for ref in refs:
                if ref.signature != signature:
                    log.info("BCD of partition %d names another disk (%08x)", entry.number,
                             ref.signature)
                elif ref.offset not in starts:
                    raise OscarError(_(
                        "The partitions were restored, but Windows' boot configuration names a "
                        "partition at byte {offset}, where none starts now: Windows will not "
                        "start (0xc000000e).").format(offset=ref.offset),
                        _("Restore onto a disk of the saved size, or repair Windows' start "
                          "from a Windows medium (bcdboot)."))
                else:
                    log.info("BCD of partition %d: %s %s names the partition at %d: found",
                             entry.number, ref.object, ref.element, ref.offset)

    def _fix_ntfs_start(self, entry: PartEntry, device: str) -> None:
        """An NTFS boot sector holds its partition's start ("hidden sectors"); Windows' boot
        code reads the volume from there. A partition that moved (a fitted table) or a volume
        made elsewhere (fsarchiver's mkntfs, a format) gets the start it has now."""
        if entry.fstype != "ntfs":
            return
        geometry = ntfs.boot_geometry(device)
        if geometry is None:
            return
        hidden, heads, per_track = geometry
        start = ptable.kernel_partitions(self.target.path).get(entry.number, (None, 0))[0]
        if start is None:
            return
        start = start * 512 // self.target.sector_size
        if hidden == start:
            return
        log.info("NTFS boot sector of %s says it starts at sector %d; it starts at %d: fixed",
                 device, hidden, start)
        run.run(ntfs.fixboot_argv(device, start, heads, per_track))
        ntfs.copy_boot_sector_to_backup(device)

    def _shrink_scratch(self, step: planning.Step) -> None:
        entry = self.man.part(step.params["number"])
        assert entry is not None and self.shrunk is not None
        self.progress.start(_("partition {n} ({fs}), shrunk beside the backups").format(
            n=entry.number, fs=entry.fstype), entry.used or entry.size)
        self.shrunk.prepare(entry, iter(self.source.chunks(entry.files)),
                            self.source.size(entry.files), step.params["size"],
                            self.progress.update)
        self.progress.finish()

    def _resize_fs(self, step: planning.Step) -> None:
        assert step.writes is not None
        entry = self.man.part(step.params["number"])
        assert entry is not None and entry.fstype is not None
        size = step.params["size"]
        self.progress.message(_("Resizing the filesystem of partition {n}").format(
            n=entry.number))
        log.info("resizing %s on %s to %s", entry.fstype, step.writes,
                 "fill the partition" if size is None else size)
        fsresize.resize(entry.fstype, step.writes, size)

    def _format_part(self, step: planning.Step) -> None:
        assert step.writes is not None
        entry = self.man.part(step.params["number"])
        assert entry is not None
        self.progress.message(_("Formatting partition {n} ({fs})").format(
            n=entry.number, fs=entry.fstype))
        run.run(mkfs.mkfs_argv(entry.fstype or "", step.writes, label=entry.label,
                               uuid=entry.uuid, start_sector=entry.start // 512))
        self._fix_ntfs_start(entry, step.writes)

    def _make_swap(self, step: planning.Step) -> None:
        assert step.writes is not None
        entry = self.man.part(step.params["number"])
        assert entry is not None
        argv = ["mkswap"]
        if entry.uuid:
            argv += ["-U", entry.uuid]
        if entry.label:
            argv += ["-L", entry.label]
        run.run([*argv, step.writes])

    def _boot_menu(self, step: planning.Step) -> None:
        disk = probe.resolve_disk(self.plan.disk_identity, store_paths=self.store_paths)
        try:
            installer = bootinstall.Installer(disk, bootinstall.InstallOptions(repair=True),
                                              self.progress)
            installer.run(lock=False)  # this restore holds the disk's lock
        except OscarError as exc:
            raise OscarError(_("The partitions were restored, but OSCAR's boot menu could not "
                               "be written again: {why}").format(why=exc.message),
                             exc.hint or _("Repair it from the OSCAR USB key (Outils → GRUB)."),
                             ) from exc

    def _prepare_store(self, step: planning.Step) -> None:
        assert step.writes is not None
        if probe.blkid(step.writes).get("TYPE"):
            log.info("%s already has a filesystem; kept", step.writes)
            return
        run.run(["mkfs.ext4", "-q", "-L", "OSCAR", step.writes])
