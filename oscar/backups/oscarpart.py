"""The PC's hidden OSCAR partition (ext4, label OSCAR): found among the disks, mounted as the
backup store for the menu and for "restaure"."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from oscar.backups.store import Entry, Store
from oscar.core import run
from oscar.core.errors import UsageError
from oscar.core.i18n import _
from oscar.disks.devices import Disk, Partition, is_oscar_filesystem
from oscar.disks.probe import LIVE_MEDIUM_MOUNTS

log = logging.getLogger("oscar.oscarpart")
MOUNT_ROOT = Path("/run/oscar")


def is_oscar_partition(part: Partition) -> bool:
    return is_oscar_filesystem(part.label, part.fstype)


def find(disks: list[Disk]) -> tuple[Disk, Partition] | None:
    """The OSCAR partition of the PC: the one OSCAR started from (its boot menu's "OSCAR" or
    "restaure"), else the first one on a disk that is not the boot medium (the USB key has
    its own)."""
    found = [(disk, part) for disk in disks if not disk.is_boot_medium
             for part in disk.partitions if is_oscar_partition(part)]
    for disk, part in found:
        if any(point in LIVE_MEDIUM_MOUNTS for point in part.mountpoints):
            return disk, part
    return found[0] if found else None


def mount_point(part: Partition) -> Path:
    return MOUNT_ROOT / f"store-{part.name}"


def mounted_at(part: Partition) -> Path | None:
    return Path(part.mountpoints[0]) if part.mountpoints else None


def mount(part: Partition, *, readonly: bool = False) -> Path:
    """Mount the OSCAR partition (read-write: restores write their log there; read-only to
    look before a confirmed plan writes) and return where; an existing mount is reused."""
    point = mounted_at(part) or mount_point(part)
    if not os.path.ismount(point):
        point.mkdir(parents=True, exist_ok=True)
        run.run(["mount", "-t", part.fstype or "ext4", "-o", "ro" if readonly else "rw",
                 part.path, str(point)])
    elif not readonly and _read_only(point):
        # live-boot mounts the partition it started from read-only; it is the store too.
        run.run(["mount", "-o", "remount,rw", str(point)])
    return point


def _read_only(point: Path | str) -> bool:
    return bool(os.statvfs(point).f_flag & os.ST_RDONLY)


def before_restart() -> None:
    """Flush, and put the partition OSCAR started from back to read-only: at shutdown the
    squashfs still open on it keeps systemd from unmounting it, and a read-only filesystem
    needs no unmounting to be clean."""
    os.sync()
    for point in LIVE_MEDIUM_MOUNTS:
        if os.path.ismount(point) and not _read_only(point):
            run.run(["mount", "-o", "remount,ro", point], check=False)


def newest_backup(store: Store, identity: str | None = None) -> Entry | None:
    """The newest complete backup, preferring those saved from the disk ``identity``."""
    usable = [e for e in store.entries() if e.state == "complete" and e.manifest is not None]
    if identity is not None:
        own = [e for e in usable if e.manifest and e.manifest.source.get("identity") == identity]
        usable = own or usable
    usable.sort(key=lambda e: e.manifest.created if e.manifest else "", reverse=True)
    return usable[0] if usable else None


def require(disks: list[Disk]) -> tuple[Disk, Partition]:
    found = find(disks)
    if found is None:
        raise UsageError(_("This PC has no OSCAR partition."),
                         _("Prepare the disk with an OSCAR partition, or use a USB backup disk."))
    return found
