"""Saved machine descriptions for the pure plans' tests: a school PC as probe sees it, its
backup's manifest and saved table, without a device. The same PC as the user guide's
(scripts/user_guide.py): Windows, Linux, swap and the OSCAR partition on a 500 GB MBR disk."""

from __future__ import annotations

import dataclasses

from oscar.backups.manifest import Manifest, PartEntry
from oscar.disks.devices import Disk, Partition
from oscar.engine import ptable

GB = 1_000_000_000
MIB = 1 << 20
LAYOUT = (  # number, start, size, fstype, label, sfdisk type
    (1, MIB, 120 * GB, "ntfs", "Windows", "7"),
    (2, MIB + 120 * GB, 60 * GB, "ext4", "Linux", "83"),
    (3, MIB + 180 * GB, 4 * GB, "swap", None, "82"),
    (4, MIB + 184 * GB, 315 * GB, "ext4", "OSCAR", "83"),
)
USED = {1: 41 * GB, 2: 11 * GB, 4: 62 * GB}
UUIDS = {1: "5E2A1C4B2A1C2339", 2: "3f1e7b0a-5c44-4d0e-9a39-0c1b7f4f2e11",
         3: "a8c1d2e3-0b4f-4c7d-8e9a-112233445566", 4: "c0ffee00-1234-4abc-8def-00aa11bb22cc"}


def school_pc(path: str = "/dev/sda", size: int = 500 * GB, *, holds_store: bool = False,
              blank: bool = False, **changes: object) -> Disk:
    """The PC's disk: its four partitions, or none (``blank``: a new disk)."""
    partitions = [] if blank else [
        Partition(f"{path}{n}", n, start, length, fs, label, used=USED.get(n),
                  uuid=UUIDS[n])
        for n, start, length, fs, label, _kind in LAYOUT]
    disk = Disk(path, size, model="ST500DM002-1BD142", serial=f"Z3TAB{size // GB}",
                ptuuid="9a3c0f11", pttype="" if blank else "dos", holds_store=holds_store,
                partitions=partitions)
    return dataclasses.replace(disk, **changes)  # type: ignore[arg-type]


def saved_backup(name: str = "2026-11-20-SALLE-B12-PC07", *,
                 linux_method: str = "partclone") -> Manifest:
    """The PC's backup: Windows by ntfsclone, Linux by partclone (or fsarchiver), the swap
    recorded, the OSCAR partition recorded as the store."""
    linux_file = ("sda2.fsa" if linux_method == "fsarchiver" else "sda2.ext4-ptcl-img.zst")
    parts = [PartEntry(1, "sda1", MIB, 120 * GB, "ntfs", "Windows", None, None, "data",
                       "ntfsclone", "zstd", ["sda1.ntfs-img.zst"], 41 * GB, 19 * GB),
             PartEntry(2, "sda2", MIB + 120 * GB, 60 * GB, "ext4", "Linux", None, None, "data",
                       linux_method, "zstd", [linux_file], 11 * GB, 4 * GB),
             PartEntry(3, "sda3", MIB + 180 * GB, 4 * GB, "swap", None, None, None, "swap"),
             PartEntry(4, "sda4", MIB + 184 * GB, 315 * GB, "ext4", "OSCAR", None, None,
                       "store")]
    return Manifest(name, "2026-11-20T18:05:33+01:00", "pc07",
                    {"identity": "serial:ST500DM002-1BD142_Z3TAB500", "name": "sda",
                     "path": "/dev/sda", "size": 500 * GB, "sector_size": 512,
                     "pttype": "dos"}, ["sda-pt.sf", "sda-mbr"], parts, {}, "0.1.0")


def saved_table() -> ptable.SfTable:
    return ptable.parse_sf(
        "label: dos\nlabel-id: 0x9a3c0f11\ndevice: /dev/sda\nunit: sectors\n"
        "sector-size: 512\n\n" + "".join(
            f"/dev/sda{n} : start= {start // 512}, size= {size // 512}, type={kind}\n"
            for n, start, size, _fs, _label, kind in LAYOUT))
