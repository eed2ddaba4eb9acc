"""The PC's hidden OSCAR partition (ext4, label OSCAR): found among the disks, mounted as the
backup store for the menu and for "restaure"."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from oscar.backups.store import Entry, Store
from oscar.core import platform, run
from oscar.core.errors import UsageError
from oscar.core.i18n import _
from oscar.disks.devices import Disk, Partition, is_oscar_filesystem
from oscar.disks.probe import LIVE_MEDIUM_MOUNTS

log = logging.getLogger("oscar.oscarpart")
MOUNT_ROOT = Path("/run/oscar")
STARTED_FROM = "live-media=/dev/disk/by-uuid/"


def is_oscar_partition(part: Partition) -> bool:
    return is_oscar_filesystem(part.label, part.fstype)


def started_from(cmdline: str) -> str | None:
    """The filesystem UUID of the partition the live system started from, as the boot menu
    of the PC's disk names it (live-media=/dev/disk/by-uuid/UUID); None otherwise."""
    for word in cmdline.split():
        if word.startswith(STARTED_FROM):
            return word[len(STARTED_FROM):] or None
    return None


def candidates(disks: list[Disk]) -> list[tuple[Disk, Partition]]:
    return [(disk, part) for disk in disks if not disk.is_boot_medium
            for part in disk.partitions if is_oscar_partition(part)]


def find(disks: list[Disk], cmdline: str | None = None) -> tuple[Disk, Partition] | None:
    """The OSCAR partition of the PC, never a guess: the one whose boot menu started OSCAR
    (its UUID on the kernel line, or the live medium mounted from it), else the only one. A
    PC with several (two disks, each with an OSCAR partition) started from elsewhere has
    none: the caller asks, or says so."""
    found = candidates(disks)
    uuid = started_from(platform.kernel_cmdline() if cmdline is None else cmdline)
    for disk, part in found:
        if uuid is not None and part.uuid == uuid:
            return disk, part
    for disk, part in found:
        if any(point in LIVE_MEDIUM_MOUNTS for point in part.mountpoints):
            return disk, part
    return found[0] if len(found) == 1 else None


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
    several = candidates(disks)
    if found is None and len(several) > 1:
        raise UsageError(
            _("This PC has several OSCAR partitions ({names}) and OSCAR did not start from "
              "one of them.").format(names=", ".join(part.name for _d, part in several)),
            _("Start OSCAR from the boot menu of the PC's own disk, or choose the backup "
              "folder (--store)."))
    if found is None:
        raise UsageError(_("This PC has no OSCAR partition."),
                         _("Prepare the disk with an OSCAR partition, or use a USB backup disk."))
    return found
