"""New partition tables through libparted (python3-parted): prepare and the USB disk lay out
their tables here, and a saved table fitted to another disk has its moved partitions checked
against the same alignment before sfdisk writes it.

libparted knows the device's topology (logical and physical sectors, alignment offset) and
where each kind of table keeps its own sectors: every partition OSCAR lays out must start on
the device's optimum alignment and fit libparted's constraints exactly, or nothing is written.
The backups keep sfdisk dumps as their table format (Clonezilla reads them).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import _ped
import parted

from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.engine.layout import PlannedPartition

log = logging.getLogger("oscar.ptable")
# pyparted 3.12 names libparted's flags only through partitionFlag {number: name}
FLAGS = {name: number for number, name in parted.partitionFlag.items()}
FILESYSTEMS = {"ntfs": "ntfs", "ext4": "ext4", "swap": "linux-swap(v1)", "vfat": "fat32"}


@dataclass(frozen=True)
class PartitionSpec:
    """One partition as libparted is told it: its place in the device's sectors, the
    filesystem type that chooses its MBR id or GPT type, its flags and (GPT) its name."""

    number: int
    start: int  # sectors of the device
    length: int
    filesystem: str | None
    flags: tuple[str, ...]
    name: str | None


def specs(parts: Sequence[PlannedPartition], label: str, sector: int) -> list[PartitionSpec]:
    """What each planned partition becomes (pure): vfat is the EFI system partition (0xef on
    MBR), biosboot GRUB's BIOS boot partition, NTFS Microsoft basic data on GPT (0x07 on MBR),
    ext4 a Linux partition (0x83: Windows gives no drive letter to a type it cannot read, so
    the OSCAR partition stays out of its sight), swap Linux swap, and MBR's active flag where
    the layout asks for it (BIOSes that start no USB disk without one)."""
    made = []
    for p in sorted(parts, key=lambda p: p.number):
        flags = []
        if p.fstype == "vfat":
            flags.append("esp")
        if p.fstype == "biosboot":
            flags.append("bios_grub")
        if p.fstype == "ntfs" and label == "gpt":
            flags.append("msftdata")
        if p.bootable and label == "dos":
            flags.append("boot")
        made.append(PartitionSpec(p.number, p.start // sector, p.size // sector,
                                  FILESYSTEMS.get(p.fstype), tuple(flags),
                                  p.label if label == "gpt" else None))
    return made


@contextmanager
def _stderr_to_log() -> Iterator[None]:
    """libparted runs `udevadm settle` through the shell and its errors go to fd 2, over the
    menu's screen: what it says there goes to the log instead."""
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            said = caught.read().decode("utf-8", "replace").strip()
            if said:
                log.info("libparted: %s", said[-2000:])


@contextmanager
def _device(disk_path: str) -> Iterator[Any]:
    device = parted.getDevice(disk_path)
    try:
        yield device
    finally:
        device.removeFromCache()


def _misaligned(device: Any, starts: Sequence[int]) -> list[int]:
    whole = parted.Geometry(device=device, start=0, length=device.length)
    alignment = device.optimumAlignment
    return [s for s in starts if not alignment.isAligned(whole, s)]


def _refuse_misaligned(disk_path: str, wrong: list[int]) -> None:
    if wrong:
        raise TargetRefused(
            _("A partition of the new table would start at sector {sector}, which is not "
              "aligned for {disk}.").format(sector=wrong[0], disk=disk_path),
            _("This is a defect of OSCAR: report it with the plan shown."))


def check_alignment(disk_path: str, starts: Sequence[int], sector_size: int) -> None:
    """Every given start (in ``sector_size`` units) is on the device's optimum alignment."""
    with _device(disk_path) as device:
        factor = sector_size // device.sectorSize
        _refuse_misaligned(disk_path, [s // factor for s in _misaligned(
            device, [s * factor for s in starts])])


def write_table(disk_path: str, parts: Sequence[PlannedPartition], label: str) -> None:
    """A new table ("dos" or "gpt") holding exactly ``parts``, committed by libparted (which
    tells the kernel). Refused before anything is written when a partition is not aligned or
    does not fit libparted's constraints."""
    with _device(disk_path) as device:
        wanted = specs(parts, label, device.sectorSize)
        _refuse_misaligned(disk_path, _misaligned(device, [s.start for s in wanted]))
        table = parted.freshDisk(device, "msdos" if label == "dos" else "gpt")
        for spec in wanted:
            _add(device, table, spec)
        with _stderr_to_log():
            table.commit()
    log.info("new %s table on %s: %s", label, disk_path,
             ", ".join(f"{s.number}@{s.start}+{s.length}" for s in wanted))


def _add(device: Any, table: Any, spec: PartitionSpec) -> None:
    geometry = parted.Geometry(device=device, start=spec.start, length=spec.length)
    filesystem = (parted.FileSystem(type=spec.filesystem, geometry=geometry)
                  if spec.filesystem else None)
    partition = parted.Partition(disk=table, type=_ped.PARTITION_NORMAL, fs=filesystem,
                                 geometry=geometry)
    try:
        table.addPartition(partition, constraint=parted.Constraint(exactGeom=geometry))
    except parted.PartitionException as exc:
        raise TargetRefused(_("Partition {n} does not fit the new table: {why}").format(
            n=spec.number, why=str(exc)[:200]),
            _("This is a defect of OSCAR: report it with the plan shown.")) from exc
    if partition.number != spec.number:
        raise TargetRefused(_("Partition {n} does not fit the new table: {why}").format(
            n=spec.number, why=f"numbered {partition.number}"),
            _("This is a defect of OSCAR: report it with the plan shown."))
    for flag in spec.flags:
        partition.setFlag(FLAGS[flag])
    if spec.name:
        partition.set_name(spec.name)
