"""The backup partitions of OSCAR USB disks (OSCAR-SAVE, ext4; OSCAR-ECOLE, NTFS): found by
label and filesystem among the disks, mounted under /run/oscar for saves, lists, verifies,
restores and copies (`oscar usbdisk mount`; the store is then an ordinary folder)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from oscar.backups.oscarpart import MOUNT_ROOT
from oscar.core import run
from oscar.core.errors import UsageError
from oscar.core.i18n import _
from oscar.disks.devices import Disk, Partition
from oscar.engine import layout

log = logging.getLogger("oscar.usbstore")
ROLES = {"save": (layout.USB_LABELS["save"], "ext4"),
         "school": (layout.USB_LABELS["school"], "ntfs")}


@dataclass
class UsbStore:
    role: str  # save or school
    disk: Disk
    part: Partition

    @property
    def label(self) -> str:
        return ROLES[self.role][0]


def find(disks: list[Disk]) -> list[UsbStore]:
    found = []
    for disk in disks:
        for part in disk.partitions:
            for role, (label, fstype) in ROLES.items():
                if part.label == label and part.fstype == fstype:
                    found.append(UsbStore(role, disk, part))
    return found


def mount_point(store: UsbStore) -> Path:
    return MOUNT_ROOT / f"usb-{store.role}-{store.part.name}"


def mount_argv(store: UsbStore, point: Path) -> list[str]:
    if store.role == "school":
        # windows_names: no file a Windows PC could not open is ever made there
        return ["ntfs-3g", "-o", "rw,windows_names", store.part.path, str(point)]
    return ["mount", "-t", "ext4", "-o", "rw", store.part.path, str(point)]


def mount(store: UsbStore) -> Path:
    """Mount (or reuse the mount of) a USB disk's backup partition; the folder is the store."""
    if store.part.mountpoints:
        return Path(store.part.mountpoints[0])
    point = mount_point(store)
    if not os.path.ismount(point):
        point.mkdir(parents=True, exist_ok=True)
        run.run(mount_argv(store, point))
    log.info("%s (%s) mounted on %s", store.label, store.part.path, point)
    return point


def unmount(store: UsbStore) -> bool:
    """Unmount what mount() mounted; False when it was not mounted there."""
    point = mount_point(store)
    if not os.path.ismount(point):
        return False
    os.sync()
    run.run(["umount", str(point)])
    point.rmdir()
    return True


def require(disks: list[Disk], disk_path: str | None = None) -> list[UsbStore]:
    found = [s for s in find(disks) if disk_path is None or s.disk.path == disk_path]
    if not found:
        raise UsageError(_("No OSCAR USB disk is plugged in (partitions {labels}).").format(
            labels=" / ".join(label for label, _fs in ROLES.values())),
            _("Plug the disk in, or lay one out with 'oscar usbdisk init'."))
    return found
