"""Restauration: write a verified backup back onto a disk chosen by identity."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
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
from oscar.disks.devices import Disk, human_size, partition_path
from oscar.engine import bcd, fsarchiver, fsresize, libparted, mkfs, mount, ntfs, ptable, scratch
from oscar.ops import bootinstall, safety
from oscar.ops import plan as planning
from oscar.ops.restore import imagewrite, shrinkscratch
from oscar.ops.restore.planner import (
    RestoreFacts,
    RestoreOptions,
    check_partition,
    plan_restore,
)
from oscar.ops.save import store_partition_names
from oscar.ops.verify import check_clonezilla, check_headers, check_integrity, fill_used

log = logging.getLogger("oscar.restore")
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




def _backup(store: Store, name: str) -> tuple[Path, Manifest, bool]:
    """The backup's folder, its manifest (a Clonezilla folder read as one) and whether it is a
    Clonezilla image; an unusable backup is refused with why."""
    entry = store.get(name)
    if entry.state == "clonezilla":
        man = clonezilla.load(entry.folder)
        fill_used(entry.folder, man)
        return entry.folder, man, True
    if entry.state == "damaged":
        raise BackupInvalid(_("The backup '{name}' is not usable ({state}).").format(
            name=name, state=entry.state), entry.problem or _("Choose another backup."))
    if entry.state != "complete" or entry.manifest is None:
        raise UsageError(_("The backup '{name}' is not usable ({state}).").format(
            name=name, state=entry.state), entry.problem or _("Choose another backup."))
    return entry.folder, entry.manifest, False


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










class Restorer:
    def __init__(self, target: Disk, store: Store, opts: RestoreOptions, progress: Progress,
                 source: ImageSource | None = None) -> None:
        self.store = store
        self.opts = opts
        self.progress = progress
        self.folder, self.man, self.clonezilla = _backup(store, opts.name)
        self.target = target
        self.confirmed_holds_store = target.holds_store
        self.store_paths = [str(store.root), *opts.keep_paths]
        self.store_parts = store_partition_names(store)
        for path in opts.keep_paths:
            self.store_parts |= store_partition_names(Store(path))
        self.source: ImageSource = source or FolderSource(self.folder)
        self.sums: dict[str, str] = {}
        self.unfinished: list[int] = []  # being written when it stopped (0: the table)
        self.written: list[int] = []
        made = plan_restore(self._facts())
        self.plan = made.plan
        self.entries = made.entries
        self.fitted = made.fitted
        self.table = made.table
        self.resizes = made.resizes
        self.shrunk = (shrinkscratch.ShrunkImages(made.scratch_folder)
                       if made.scratch_folder is not None else None)

    def _facts(self) -> RestoreFacts:
        """Everything the plan needs, read now: the saved table, the Clonezilla checksum files,
        whether OSCAR's boot menu is on the disk, the room for a shrinking image."""
        from_folder = isinstance(self.source, FolderSource)
        room: dict[Path, int] = {}
        for folder in (self.store.root, Path(tempfile.gettempdir())):
            with contextlib.suppress(OSError):
                if folder.is_dir():
                    room.setdefault(folder, scratch.room_in(folder))
        return RestoreFacts(
            self.target, self.man, self.opts,
            saved_table=self._saved_table(check=False).table if self.opts.with_table else None,
            store_parts=frozenset(self.store_parts), from_folder=from_folder,
            clonezilla_sums=(list(clonezilla.read_sums(self.folder))
                             if from_folder and self.clonezilla else None),
            # OSCAR's boot menu on this disk names the restored systems' kernels and lives
            # partly on partitions a restore may replace (the EFI partition, the sectors after
            # the MBR): it is written again after the restore.
            boot_menu=bootinstall.installed_on(self.target) is not None,
            scratch_room=room)

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
                    "write-table": self._written(self._write_table),
                    "restore-part": self._written(self._restore_part),
                    "format-part": self._written(self._format_part),
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

    def _written(self, handler: Callable[[planning.Step], None]
                 ) -> Callable[[planning.Step], None]:
        """Keeps which partitions were being written when the restore stopped (they hold
        neither the old nor the restored files: the person must be told)."""
        def tracked(step: planning.Step) -> None:
            number = step.params.get("number")
            self.unfinished.append(number if isinstance(number, int) else 0)
            handler(step)
            self.unfinished.pop()
            if isinstance(number, int):
                self.written.append(number)
        return tracked

    def interrupted_note(self) -> str:
        """After a failed or stopped restore: what is now unusable and what to do."""
        if not self.unfinished:
            return ""
        number = self.unfinished[-1]
        if number == 0:
            what = _("The partition table of {disk} was being written: the disk's partitions "
                     "may be unusable.").format(disk=self.target.path)
        else:
            what = _("Partition {n} of {disk} was being written: it is unusable now.").format(
                n=number, disk=self.target.path)
        return what + " " + _("Restore this backup again, to the end, before starting the PC "
                              "from this disk.")

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
        saved = self._saved_table(check=True)
        table: ptable.SfTable = step.params["table"]
        if self.fitted is not None and not self.fitted.same:
            # the partitions OSCAR moved start where libparted aligns them on this device
            # (the ones kept in place are where the saved PC had them, aligned or not)
            before = {e.number: e.start * saved.table.sector_size for e in saved.table.entries}
            libparted.check_alignment(self.target.path, [
                e.start for e in table.entries
                if before.get(e.number) != e.start * table.sector_size], table.sector_size)
        ptable.write(self.target, saved, table,
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
        if entry.bitlocker == "decrypted":
            log.info("partition %s was BitLocker on the saved PC: restored unencrypted (NTFS); "
                     "Windows encrypts it again by its own policy", entry.name)
        elif entry.bitlocker == "encrypted":
            log.info("partition %s restored as the encrypted BitLocker volume it was saved as",
                     entry.name)

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
