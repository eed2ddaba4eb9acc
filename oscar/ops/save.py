"""Sauvegarde: save a disk's partition table and partitions into a new backup of the store."""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import oscar
from oscar.backups import methods
from oscar.backups.manifest import Manifest, PartEntry
from oscar.backups.store import PartialBackup, Store, check_name, store_error
from oscar.core import oplog, run, tools
from oscar.core.errors import CommandFailed, OscarError, StoreFull, TargetRefused, UsageError
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.disks import disklock, probe
from oscar.disks.devices import Disk, Partition, human_size
from oscar.engine import compress as compression
from oscar.engine import dislocker, fsarchiver, ntfs, ntfsclone, partclone, ptable
from oscar.ops import plan as planning

log = logging.getLogger("oscar.save")

METHODS = ("auto", "fsarchiver", "ntfsclone", "partclone", "raw")
LOG_NAME = "oscar-save.log"


@dataclass
class SaveOptions:
    name: str
    parts: list[int] | None = None
    method: str = "auto"
    compress: str = "zstd"
    level: int | None = None
    # the keys given for BitLocker volumes (never written anywhere: see engine/dislocker)
    bitlocker_keys: list[dislocker.Key] = field(default_factory=list)


@dataclass
class Opened:
    """What a BitLocker volume holds, read through its key before the plan."""

    fstype: str | None
    used: int | None


def auto_method(fstype: str) -> tuple[str, str]:
    """The method bench/save_restore measured best for ``fstype``, and why (logged)."""
    if fstype == "ntfs":
        return "ntfsclone", ("NTFS: ntfsclone, block-exact, saves as fast as partclone and "
                             "restores fastest (bench/save_restore)")
    if partclone.supports(fstype):
        return "partclone", (f"{fstype}: partclone images the used blocks, block-exact, keeps "
                             "every time and attribute")
    return "fsarchiver", f"{fstype}: no block imager, fsarchiver saves it file by file"


def choose_method(part: Partition, requested: str) -> tuple[str, str]:
    fstype = part.fstype or ""
    if requested == "auto":
        return auto_method(fstype)
    if requested == "ntfsclone" and fstype != "ntfs":
        raise UsageError(_("ntfsclone saves only NTFS; partition {n} is {fs}.").format(
            n=part.number, fs=fstype or "?"), _("Use --method auto or partclone."))
    if requested == "partclone" and not partclone.supports(fstype):
        raise UsageError(_("partclone cannot save {fs} (partition {n}).").format(
            fs=fstype or "?", n=part.number), _("Use --method fsarchiver or raw."))
    if requested == "fsarchiver" and fstype not in fsarchiver.SUPPORTED:
        raise UsageError(_("fsarchiver cannot save {fs} (partition {n}).").format(
            fs=fstype or "?", n=part.number), _("Use --method raw."))
    return requested, "chosen by the user"


def select_partitions(disk: Disk, store_parts: set[str], opts: SaveOptions,
                      opened: dict[int, Opened] | None = None) -> list[PartEntry]:
    """Decide, for every partition of the disk, whether and how it is saved (pure).
    ``opened``: the BitLocker volumes opened with their key, by partition number."""
    if not disk.partitions:
        raise UsageError(_("The disk {disk} has no partition table to save.").format(
            disk=disk.path), _("Choose the disk of the PC to save ('oscar probe')."))
    numbers = {p.number for p in disk.partitions}
    for wanted in opts.parts or []:
        if wanted not in numbers:
            raise UsageError(_("Partition {n} does not exist on {disk}.").format(
                n=wanted, disk=disk.path), _("Partitions there: {list}.").format(
                list=", ".join(str(n) for n in sorted(numbers))))
    entries = []
    for part in disk.partitions:
        explicit = opts.parts is not None and part.number in opts.parts
        chosen = explicit or opts.parts is None
        entry = PartEntry(part.number, part.name, part.start, part.size, part.fstype, part.label,
                          part.uuid, part.partuuid, "skipped", used=part.used)
        # The PC's own OSCAR partition holds backups even when we save elsewhere: it is recorded
        # (so a restore with the table recreates it) but never imaged unless asked for.
        oscar_partition = part.label == "OSCAR" and part.fstype in ("ext4", "ext3", "ext2")
        if part.name in store_parts or (oscar_partition and not explicit):
            if explicit:
                raise TargetRefused(
                    _("Partition {n} holds the backup folder; it cannot be saved into "
                      "itself.").format(n=part.number),
                    _("Choose other partitions, or another backup folder."))
            entry.role = "store"
        elif part.is_swap:
            entry.role = "swap"
        elif chosen and part.encrypted:
            _select_bitlocker(entry, part, opts, (opened or {}).get(part.number))
        elif chosen and (part.known_fs or opts.method == "raw"):
            if part.in_use:
                raise TargetRefused(
                    _("Partition {n} ({dev}) is mounted or in use.").format(
                        n=part.number, dev=part.path),
                    _("Unmount it first: a filesystem in use cannot be saved consistently."))
            method, reason = choose_method(part, opts.method)
            log.info("partition %s: method %s (%s)", part.name, method, reason)
            entry.role, entry.method = "data", method
            entry.compress = None if method == "fsarchiver" else opts.compress
        elif explicit:
            raise UsageError(
                _("Partition {n} has no filesystem OSCAR knows ({fs}).").format(
                    n=part.number, fs=part.fstype or _("none")),
                _("Use --method raw to save it block by block (every byte, larger and slower)."))
        entries.append(entry)
    if not any(e.role == "data" for e in entries):
        raise UsageError(_("Nothing to save on {disk}.").format(disk=disk.path),
                         _("No partition with a known filesystem was chosen."))
    return entries


def _select_bitlocker(entry: PartEntry, part: Partition, opts: SaveOptions,
                      inside: Opened | None) -> None:
    """A BitLocker volume: saved decrypted through its key, or raw when asked; refused else
    (an encrypted volume does not compress: its copy is the whole partition)."""
    if part.in_use:
        raise TargetRefused(_("Partition {n} ({dev}) is mounted or in use.").format(
            n=part.number, dev=part.path),
            _("Unmount it first: a filesystem in use cannot be saved consistently."))
    entry.role = "data"
    if opts.method == "raw":
        entry.method, entry.compress, entry.bitlocker = "raw", opts.compress, "encrypted"
        return
    if inside is None:
        key_id = part.bitlocker.recovery_key_id if part.bitlocker else None
        raise UsageError(
            _("Partition {n} is encrypted with BitLocker: without its key OSCAR can only copy "
              "every sector ({size}), since an encrypted volume cannot be compressed.").format(
                n=part.number, size=human_size(part.size)),
            _("Give its key (--bitlocker-key-file FILE or --bitlocker-key-stdin; recovery key "
              "ID {id}), or copy it as it is with --method raw (restores onto this PC "
              "only).").format(id=key_id or "?"))
    fake = Partition(part.path, part.number, part.start, part.size, inside.fstype)
    if not fake.known_fs:
        raise UsageError(_("The BitLocker volume of partition {n} holds {fs}, which OSCAR "
                           "cannot save file by file.").format(n=part.number,
                                                               fs=inside.fstype or _("nothing")),
                         _("Use --method raw."))
    method, reason = choose_method(fake, opts.method)
    log.info("partition %s: BitLocker opened, %s inside: method %s (%s)", part.name,
             inside.fstype, method, reason)
    entry.fstype, entry.used, entry.method, entry.bitlocker = (
        inside.fstype, inside.used, method, "decrypted")
    entry.compress = None if method == "fsarchiver" else opts.compress


# What a compressed image weighs against the data it holds, to say before starting whether a
# backup fits (measured on the lab's Windows and Linux files: 0.45-0.6; compressed data, media
# or encrypted volumes stay at 1). ROOM_AT_LEAST: below this share, it surely does not fit.
EXPECTED_RATIO = 0.7
ROOM_AT_LEAST = 0.2
MARGIN = 64 << 20


def estimated_bytes(entries: list[PartEntry], opts: SaveOptions) -> tuple[int, int]:
    """(expected, least) bytes the backup of ``entries`` takes on the store."""
    expected, least = MARGIN, 0
    for entry in entries:
        if entry.role != "data":
            continue
        data = entry.size if entry.method == "raw" else (entry.used or entry.size)
        compressed = opts.compress != "none"
        # An encrypted copy hardly compresses where data is, but BitLocker leaves the unused
        # space as it was (often zeros): only the expectation counts it whole, never the refusal.
        expected += int(data * (EXPECTED_RATIO if compressed and entry.bitlocker != "encrypted"
                                else 1.0))
        least += int(data * (ROOM_AT_LEAST if compressed else 1.0))
    return expected, least


def room_lines(plan: planning.Plan, needed: int, free: int | None, replacing: bool) -> None:
    """The store's room on the plan: the estimate, the free space, and a warning when it will
    probably not fit (a refusal is raised by the caller when it surely cannot)."""
    if free is None:
        return
    plan.details.append(_("Space: needed about {needed}, free {free}").format(
        needed=human_size(needed), free=human_size(free)))
    if replacing:
        plan.warnings.append(_("the backup of the same name is replaced only once the new one is "
                               "complete: until then both take room"))
    if needed > free:
        plan.warnings.append(_("the backup will probably not fit ({needed} needed, {free} free): "
                               "delete an old backup first (Tools → Delete a backup)").format(
            needed=human_size(needed), free=human_size(free)))


def build_plan(disk: Disk, store: Store, entries: list[PartEntry], opts: SaveOptions,
               free: int | None = None, replacing: bool = False) -> planning.Plan:
    plan = planning.Plan(_("Save {disk} into {folder}").format(
        disk=disk.path, folder=store.root / opts.name), disk.identity, disk.path, disk.size)
    room_lines(plan, estimated_bytes(entries, opts)[0], free, replacing)
    plan.steps.append(planning.Step("save-table", _("Save the partition table ({label})").format(
        label=disk.table_label)))
    for entry in entries:
        if entry.role == "data" and entry.bitlocker == "decrypted":
            label = _("Save partition {n} (BitLocker, opened with its key: {fs}) with {method}, "
                      "decrypted").format(n=entry.number, fs=entry.fstype, method=entry.method)
            plan.warnings.append(_(
                "partition {n} is saved decrypted: the backup holds, readable, what BitLocker "
                "protected on the PC; keep the backup disk locked away (docs/bitlocker.md)"
                ).format(n=entry.number))
        elif entry.role == "data" and entry.bitlocker == "encrypted":
            label = _("Copy partition {n} (BitLocker, encrypted) sector by sector").format(
                n=entry.number)
            plan.warnings.append(_(
                "partition {n} is copied encrypted, {size}: it restores onto this PC only (its "
                "TPM or its recovery key unlocks it), never onto others").format(
                n=entry.number, size=human_size(entry.size)))
        if entry.role == "data":
            if not entry.bitlocker:
                label = _("Save partition {n} ({fs}, {label}) with {method}").format(
                    n=entry.number, fs=entry.fstype or "raw", label=entry.label or "-",
                    method=entry.method)
            plan.steps.append(planning.Step("save-part", label, size=entry.used or entry.size,
                                            params={"number": entry.number}))
        elif entry.role == "swap":
            plan.steps.append(planning.Step("record-swap", _("Record swap partition {n}").format(
                n=entry.number), params={"number": entry.number}))
        elif entry.role == "store":
            plan.warnings.append(_("partition {n} holds the backups and is not saved").format(
                n=entry.number))
        else:
            plan.warnings.append(_("partition {n} ({fs}) is not saved").format(
                n=entry.number, fs=entry.fstype or _("no filesystem")))
    plan.steps.append(planning.Step("publish", _("Check every file and publish the backup")))
    if opts.method == "raw":
        plan.warnings.append(_("raw images copy every block, used or not"))
    if any(e.method == "fsarchiver" and e.fstype == "ntfs" for e in entries):
        plan.warnings.append(_("fsarchiver keeps file times to the second and loses the alternate "
                               "data streams of NTFS files; ntfsclone keeps everything"))
    return plan


def tool_versions() -> dict[str, str]:
    versions = {"oscar": oscar.__version__}
    for name, argv in (("partclone", ["partclone.dd", "-v"]), ("ntfsclone", ["ntfsclone", "-V"]),
                       ("fsarchiver", ["fsarchiver", "-V"]), ("zstd", ["zstd", "-V"]),
                       ("sfdisk", ["sfdisk", "-v"])):
        try:
            result = run.run(argv, check=False)
        except OscarError:
            continue
        text = (result.stdout.decode(errors="replace") + result.stderr).strip()
        versions[name] = text.splitlines()[0][:120] if text else "?"
    return versions


class Saver:
    def __init__(self, disk: Disk, store: Store, opts: SaveOptions, progress: Progress) -> None:
        compression.check(opts.compress)
        compression.check_level(opts.compress, opts.level)
        check_name(opts.name)
        self.disk = disk
        self.store = store
        self.opts = opts
        self.progress = progress
        self.store_parts = store_partition_names(store)
        self.entries = select_partitions(disk, self.store_parts, opts, self._open_bitlocker())
        free = self._free_room()
        replacing = (store.root / opts.name).exists()
        self.plan = build_plan(disk, store, self.entries, opts, free, replacing)
        least = estimated_bytes(self.entries, opts)[1]
        if free is not None and least > free:
            raise StoreFull(
                _("The backup disk is too full for this backup: at least {least} is needed, "
                  "{free} is free on {root}.").format(
                    least=human_size(least), free=human_size(free), root=store.root),
                _("Delete an old backup (Tools → Delete a backup, or 'oscar delete NAME') or "
                  "use a bigger disk."))
        self.backup: PartialBackup | None = None
        self.table_files: list[str] = []

    def _open_bitlocker(self) -> dict[int, Opened]:
        """Each chosen BitLocker volume opened once with the keys given (a wrong key is said
        before the plan), to read what it holds; closed again until its turn."""
        found: dict[int, Opened] = {}
        if self.opts.method == "raw":
            return found
        for part in self.disk.partitions:
            wanted = self.opts.parts is None or part.number in self.opts.parts
            if not (wanted and part.encrypted and not part.in_use):
                continue
            if not self.opts.bitlocker_keys and not (
                    part.bitlocker and part.bitlocker.unlocked_without_key):
                continue
            tools.require("dislocker")
            with dislocker.opened(part.path, self.opts.bitlocker_keys, part.bitlocker) as inner:
                info = probe.blkid(str(inner))
                fstype = info.get("TYPE")
                found[part.number] = Opened(fstype, probe.used_bytes(str(inner), fstype, []))
        return found

    @contextlib.contextmanager
    def _source(self, entry: PartEntry) -> Iterator[str]:
        """What is read for ``entry``: the partition, or its BitLocker volume decrypted."""
        device = self._device(entry.number)
        if entry.bitlocker != "decrypted":
            yield device
            return
        part = self.disk.partition(entry.number)
        assert part is not None
        with dislocker.opened(device, self.opts.bitlocker_keys, part.bitlocker) as inner:
            if entry.fstype == "ntfs":
                ntfs.check_clean(str(inner))
            yield str(inner)

    def required_tools(self) -> list[str]:
        needed = ["sfdisk", "parted", *(["sgdisk"] if self.disk.pttype == "gpt" else [])]
        if any(e.bitlocker == "decrypted" for e in self.entries):
            needed.append("dislocker")
        for e in self.entries:
            if e.role == "data":
                needed += methods.tools_for(e, saving=True)
        return needed

    def run(self) -> Path:
        tools.require_all(self.required_tools())
        for entry in self.entries:
            if entry.role == "data" and entry.fstype == "ntfs" and not entry.bitlocker:
                ntfs.check_clean(self._device(entry.number))
        try:
            with disklock.locked(self.disk), self.store.writing(self.opts.name) as backup:
                self.backup = backup
                with oplog.logging_to(backup.folder / LOG_NAME):
                    log.info("saving %s (%s) into %s", self.disk.path, self.disk.identity,
                             backup.folder)
                    planning.execute(self.plan, {
                        "save-table": self._save_table,
                        "save-part": self._save_part,
                        "record-swap": self._record_swap,
                        "publish": lambda step: None,
                    }, None, self.progress.step)
                manifest = self._manifest()
                self.progress.message(_("Checking the files written..."))
                return backup.publish(manifest)
        except OSError as exc:
            # the small files (table, log, Clonezilla's lists) are written here, not through a
            # sink: a full or read-only store is said as such; the partial folder is gone
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise store_error(exc, self.store.root) from exc
            raise

    def _device(self, number: int) -> str:
        part = self.disk.partition(number)
        assert part is not None
        return part.path

    def _save_table(self, step: planning.Step) -> None:
        assert self.backup is not None
        self.table_files = ptable.save(self.disk, self.backup.folder)
        self._write_clonezilla_files()

    def _write_clonezilla_files(self) -> None:
        assert self.backup is not None
        folder = self.backup.folder
        block = [e for e in self.entries if e.role == "data" and e.method != "fsarchiver"]
        # Clonezilla restores the partitions listed in "parts"; file-level archives are ours only.
        (folder / "disk").write_text(self.disk.name + "\n")
        (folder / "parts").write_text(" ".join(e.name for e in block) + "\n")
        lines = ["# <Device name>   <File system>   <Size>"]
        lines += [f"/dev/{e.name} {e.fstype or 'raw'} {human_size(e.size)}"
                  for e in self.entries if e.fstype]
        (folder / "dev-fs.list").write_text("\n".join(lines) + "\n")
        (folder / "clonezilla-img").write_text(
            f"This image was saved by OSCAR {oscar.__version__} on "
            f"{datetime.datetime.now().isoformat(timespec='seconds')}\n")
        self.table_files += ["disk", "parts", "dev-fs.list", "clonezilla-img"]

    def _record_swap(self, step: planning.Step) -> None:
        assert self.backup is not None
        entry = next(e for e in self.entries if e.number == step.params["number"])
        name = f"swappt-{entry.name}.info"
        (self.backup.folder / name).write_text(
            f'UUID="{entry.uuid or ""}"\nLABEL="{entry.label or ""}"\n')
        entry.files = [name]

    def _save_part(self, step: planning.Step) -> None:
        assert self.backup is not None
        entry = next(e for e in self.entries if e.number == step.params["number"])
        total = entry.used or entry.size
        self.progress.start(_("partition {n} ({fs})").format(n=entry.number, fs=entry.fstype),
                            total)
        try:
            with self._source(entry) as device:
                if entry.method == "fsarchiver":
                    self._save_fsarchiver(entry, device)
                else:
                    self._save_block(entry, device)
        except CommandFailed as exc:
            if self._store_nearly_full() or "No space left" in exc.stderr_tail:
                raise StoreFull(_("The backup disk is full ({root}).").format(root=self.store.root),
                                _("Delete an old backup ('oscar delete', or Tools → Delete a backup in the "
                                  "menu) or use a bigger disk. "
                                  "The older backups are intact.")) from exc
            raise
        self.progress.finish()
        entry.stored = sum((self.backup.folder / f).stat().st_size for f in entry.files)
        log.info("partition %s saved: %s in %s", entry.name, human_size(entry.stored), entry.files)

    def _free_room(self) -> int | None:
        try:
            st = os.statvfs(self.store.root)
        except OSError:
            return None  # the store's own error comes when it is written
        return st.f_bavail * st.f_frsize

    def _store_nearly_full(self) -> bool:
        st = os.statvfs(self.store.root)
        return st.f_bavail * st.f_frsize < 4 * 1024 * 1024

    def _save_block(self, entry: PartEntry, device: str) -> None:
        with partclone.logfile() as logfile:
            self._save_block_logged(entry, device, logfile)

    def _save_block_logged(self, entry: PartEntry, device: str, logfile: str) -> None:
        assert self.backup is not None
        comp = entry.compress or "none"
        suffix = compression.SUFFIX[comp]
        if entry.method == "ntfsclone":
            filename = ntfsclone.image_name(entry.name)
            reader = ntfsclone.save_argv(device)
            parse = ntfsclone.ProgressParser()
        else:
            fstype = methods.partclone_fs(entry)
            filename = partclone.image_name(entry.name, fstype, suffix)
            reader = partclone.save_argv(fstype, device, logfile)
            parse = partclone.parse_percent  # type: ignore[assignment]
        stages = [reader]
        comp_argv = compression.compress_argv(comp, self.opts.level)
        if comp_argv:
            stages.append(comp_argv)
        sink = self.backup.open_sink(filename)
        entry.files = [filename]

        def on_line(stage: int, line: str) -> None:
            if stage == 0:
                value = parse(line)
                if value is not None:
                    self.progress.update(value / 100)

        try:
            run.pipeline(stages, sink=sink, on_line=on_line)
        except BaseException:
            sink.abandon()
            raise
        sink.close()

    def _save_fsarchiver(self, entry: PartEntry, device: str) -> None:
        assert self.backup is not None
        filename = fsarchiver.archive_name(entry.name)
        entry.files = [filename]

        def on_line(line: str) -> None:
            value = fsarchiver.parse_percent(line)
            if value is not None:
                self.progress.update(value / 100)

        run.run(fsarchiver.save_argv(device, str(self.backup.folder / filename),
                                     self.opts.compress, self.opts.level, entry.fstype),
                on_line=on_line)

    def _manifest(self) -> Manifest:
        disk = self.disk
        return Manifest(
            name=self.opts.name,
            created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            hostname=socket.gethostname(),
            source={"identity": disk.identity, "path": disk.path, "name": disk.name,
                    "size": disk.size, "sector_size": disk.sector_size, "model": disk.model,
                    "serial": disk.serial, "wwn": disk.wwn, "ptuuid": disk.ptuuid,
                    "pttype": disk.pttype},
            table_files=[*self.table_files, LOG_NAME],
            partitions=self.entries,
            tools=tool_versions(),
            oscar_version=oscar.__version__,
        )


def store_partition_names(store: Store) -> set[str]:
    found = probe.disk_of_path(str(store.root))
    return {found[1]} if found and found[1] else set()
