"""Restoring onto a disk that is not the saved one: other size, other sector size (pure).

Decides, from the manifest and the fitted table, which partitions' filesystems are grown after
their restore, which block images must be shrunk (restored into a partition of their saved
size, shrunk, then the partition cut), and refuses what cannot work, with the reason and the
path that would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oscar.backups.manifest import Manifest, PartEntry
from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.disks.devices import Disk, human_size
from oscar.engine import fit, fsresize
from oscar.engine.ptable import SfTable

MIB = 1 << 20
FS_OVERHEAD = 32 * MIB  # journal, MFT and other metadata beyond the used bytes
SWAP_MIN = 16 * MIB
STORE_MIN = 256 * MIB
BLOCK = ("ntfsclone", "partclone", "raw")


def data_minimum(entry: PartEntry) -> int:
    """The smallest partition the entry's data fits in, once restored (and shrunk)."""
    if entry.used is None:
        return entry.size
    return min(entry.size, int(entry.used * 1.1) + FS_OVERHEAD)


def can_shrink(entry: PartEntry) -> bool:
    if entry.method == "fsarchiver":
        return True
    return entry.method in ("ntfsclone", "partclone") and fsresize.can_resize(entry.fstype)


def part_needs(man: Manifest, restored: set[int], *, resize_store: bool) -> dict[int, fit.PartNeed]:
    """For each saved partition, how far its size may change. A data partition not restored now
    (a deployment restores it later, without the table) keeps at least its saved size when it
    is a block image: only a restore with the table can shrink one."""
    needs: dict[int, fit.PartNeed] = {}
    for entry in man.partitions:
        if entry.role == "data":
            shrinkable = can_shrink(entry) and (entry.number in restored
                                                or entry.method == "fsarchiver")
            growable = entry.method == "fsarchiver" or fsresize.can_resize(entry.fstype)
            if growable:
                low = data_minimum(entry) if shrinkable else entry.size
                needs[entry.number] = fit.PartNeed(entry.number, low, True, True)
        elif entry.role == "swap":
            needs[entry.number] = fit.PartNeed(entry.number, min(entry.size, SWAP_MIN), True, False)
        elif entry.role == "store" and resize_store:
            needs[entry.number] = fit.PartNeed(entry.number, min(entry.size, STORE_MIN), True,
                                               False)
    return needs


def kept_starts(man: Manifest) -> frozenset[int]:
    """The partitions whose start must not move: NTFS ones of an MBR disk, where Windows' boot
    configuration (BCD) names the partition that holds Windows, and the one holding its boot
    manager, by disk signature and byte offset."""
    if man.source.get("pttype") == "gpt":
        return frozenset()
    return frozenset(e.number for e in man.partitions if e.fstype == "ntfs")


@dataclass
class Resizes:
    shrink: dict[int, int] = field(default_factory=dict)  # number → final size (bytes)
    grow: set[int] = field(default_factory=set)
    # shrunk in a sparse file beside the backups first: the saved size does not fit on the disk
    scratch: dict[int, int] = field(default_factory=dict)


def check_sector_size(man: Manifest, entries: list[PartEntry], target: Disk,
                      format_only: bool) -> None:
    """Block images carry filesystems laid out for the saved disk's sectors."""
    saved = int(man.source.get("sector_size") or 512)
    if saved == target.sector_size or format_only:
        return
    for entry in entries:
        if entry.method in BLOCK:
            raise TargetRefused(
                _("Partition {n} was saved block by block ({method}) from a disk with {old}-byte "
                  "sectors; {disk} has {new}-byte sectors, and that filesystem would not work "
                  "there.").format(n=entry.number, method=entry.method, old=saved,
                                   disk=target.path, new=target.sector_size),
                _("Save the model again at file level (--method fsarchiver): fsarchiver makes "
                  "the filesystem anew for the target's sectors."))


def resizes(man: Manifest, entries: list[PartEntry], fitted: fit.Fitted, disk_bytes: int,
            sector: int, *, scratch_ok: bool) -> Resizes:
    """Which restored block images are grown or shrunk, checked against the disk.
    ``scratch_ok``: the images are files here (not a deployment's stream), so one whose saved
    size does not fit on the disk can be shrunk in a file first."""
    result = Resizes()
    for entry in entries:
        if entry.method not in BLOCK:
            continue  # fsarchiver makes the filesystem at the partition's size
        change = fitted.change(entry.number)
        if change is None or change.new_size == entry.size:
            continue
        if change.new_size > entry.size:
            if fsresize.can_resize(entry.fstype):
                result.grow.add(entry.number)
            continue
        end = change.new_start + entry.size
        usable = fit.usable_end(disk_bytes, sector, fitted.table.label)
        if end > usable and scratch_ok:
            result.scratch[entry.number] = change.new_size
            continue
        result.shrink[entry.number] = change.new_size
        if end > usable:
            raise TargetRefused(
                _("Partition {n} is a block image ({method}) of {size}: to shrink it, OSCAR "
                  "restores it at its saved size first, and from {start} that needs {need}; "
                  "the disk has {have}.").format(
                    n=entry.number, method=entry.method, size=human_size(entry.size),
                    start=human_size(change.new_start), need=human_size(end),
                    have=human_size(usable)),
                _("On the model, shrink that partition before saving, or save it at file level "
                  "(--method fsarchiver), which restores into any partition its data fits in; "
                  "or restore from the backup's folder (oscar restore), which shrinks it in a "
                  "file beside the backups first."))
    if result.shrink:
        order = [e.number for e in entries]
        by_start = sorted(order, key=lambda n: _start(fitted.table, n))
        if order != by_start:
            raise TargetRefused(
                _("The partitions' numbers are not in the order of their places on the disk: "
                  "OSCAR cannot shrink block images there."),
                _("Save the shrinking partitions at file level (--method fsarchiver)."))
    return result


def _start(table: SfTable, number: int) -> int:
    return next((e.start for e in table.entries if e.number == number), 0)
