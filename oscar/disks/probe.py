"""Probe the machine's disks into the device model, without udev (sysfs, blkid, sfdisk).

The live system and CI have no udev daemon, so lsblk/pyudev see no filesystem data; blkid -p
reads the signatures itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from oscar.core import run, settings
from oscar.core.errors import UsageError
from oscar.core.i18n import _
from oscar.disks import bitlocker
from oscar.disks.devices import Disk, Partition, is_oscar_filesystem

log = logging.getLogger("oscar.probe")

SYS_BLOCK = Path("/sys/block")
SYS_CLASS_BLOCK = Path("/sys/class/block")
# Where live-boot mounts the medium it booted from.
LIVE_MEDIUM_MOUNTS = ("/run/live/medium", "/lib/live/mount/medium")
LIVE_ROOTFS = "/run/live/rootfs"
DISK_PATTERN = re.compile(r"^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+|loop\d+)$")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip() or None
    except OSError:
        return None


def parse_blkid_export(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def blkid(path: str) -> dict[str, str]:
    # Exit code 2 means "nothing found": a blank partition, not an error.
    result = run.run(["blkid", "-p", "-o", "export", path], check=False)
    if result.returncode not in (0, 2):
        log.info("blkid %s exited %s", path, result.returncode)
    return parse_blkid_export(result.stdout.decode("utf-8", "replace"))


@dataclass
class TableEntry:
    node: str
    number: int
    start: int  # sectors
    size: int  # sectors
    type: str
    uuid: str | None = None


def parse_sfdisk_json(text: str) -> tuple[str | None, str | None, int, list[TableEntry]]:
    """(label, id, sector size, entries) from ``sfdisk -J``."""
    data = json.loads(text)["partitiontable"]
    entries = []
    for p in data.get("partitions", []):
        match = re.search(r"(\d+)$", p["node"])
        number = int(match.group(1)) if match else 0
        entries.append(TableEntry(p["node"], number, int(p["start"]), int(p["size"]),
                                  str(p.get("type", "")), p.get("uuid")))
    return data.get("label"), data.get("id"), int(data.get("sectorsize", 512)), entries


def parse_dumpe2fs_used(text: str) -> int | None:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        blocks = int(fields["Block count"])
        free = int(fields["Free blocks"])
        size = int(fields["Block size"])
    except (KeyError, ValueError):
        return None
    return (blocks - free) * size


def parse_ntfsresize_used(text: str) -> int | None:
    match = re.search(r"Space in use\s*:\s*(\d+)\s*MB", text)
    return int(match.group(1)) * 1_000_000 if match else None


def used_bytes(path: str, fstype: str | None, mountpoints: list[str]) -> int | None:
    if mountpoints:
        st = os.statvfs(mountpoints[0])
        return (st.f_blocks - st.f_bfree) * st.f_frsize
    if fstype in ("ext2", "ext3", "ext4"):
        result = run.run(["dumpe2fs", "-h", path], check=False)
        return parse_dumpe2fs_used(result.stdout.decode("utf-8", "replace"))
    if fstype == "ntfs":
        result = run.run(["ntfsresize", "--info", "--force", "--no-action", path], check=False)
        return parse_ntfsresize_used(result.stdout.decode("utf-8", "replace"))
    return None


def mounted_devices() -> dict[str, list[str]]:
    """major:minor → mount points, from /proc/self/mountinfo."""
    mounts: dict[str, list[str]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mounts.setdefault(fields[2], []).append(fields[4].replace("\\040", " "))
    return mounts


def active_swaps() -> set[str]:
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return {os.path.realpath(line.split()[0]) for line in lines if line.strip()}


def devnum(name: str) -> str | None:
    return _read(SYS_CLASS_BLOCK / name / "dev")


def disk_of_devnum(major_minor: str) -> tuple[str, str | None] | None:
    """(disk name, partition name or None) for a block device number."""
    link = Path("/sys/dev/block") / major_minor
    try:
        real = link.resolve()
    except OSError:
        return None
    if not real.exists():
        return None
    if (real / "partition").exists():
        return real.parent.name, real.name
    return real.name, None


def disk_of_path(path: str) -> tuple[str, str | None] | None:
    """The disk (and partition) holding the filesystem that ``path`` lives on."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return disk_of_devnum(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")


def boot_devices() -> set[str]:
    """Disk names of the boot medium: the disk of /, of live-boot's medium, and any named in
    OSCAR_BOOT_DEVICE (set by the live system's boot script when it knows better).

    Started from the PC's own OSCAR partition ("OSCAR" or "restaure" in its boot menu), the
    medium is that partition, not a key: the PC's disk stays a target, and the partition is
    protected as the store it also is."""
    names = set()
    # live-boot mounts the system's squashfs from a loop device under /run/live/rootfs: that
    # loop device is the running system (its file in RAM when booted from the network)
    with contextlib.suppress(OSError):
        for image in Path(LIVE_ROOTFS).iterdir():
            found = disk_of_path(str(image)) if os.path.ismount(image) else None
            if found:
                names.add(found[0])
    for path in ("/", *LIVE_MEDIUM_MOUNTS):
        if path != "/" and not os.path.ismount(path):
            continue
        found = disk_of_path(path)
        if found and not (path != "/" and found[1] and _is_oscar_partition(found[1])):
            names.add(found[0])
    for dev in settings.BOOT_DEVICE.value().split(","):
        if dev.strip():
            names.add(os.path.basename(os.path.realpath(dev.strip())))
    return names


def _is_oscar_partition(name: str) -> bool:
    info = blkid(f"/dev/{name}")
    return is_oscar_filesystem(info.get("LABEL"), info.get("TYPE"))


def _serial(sysdir: Path) -> str | None:
    serial = _read(sysdir / "device" / "serial") or _read(sysdir / "serial")
    if serial:
        return serial
    vpd = sysdir / "device" / "vpd_pg80"
    try:
        raw = vpd.read_bytes()
    except OSError:
        return None
    text = raw[4:].decode("ascii", "replace").strip(" \x00")
    return text or None


def _wwn(sysdir: Path) -> str | None:
    wwid = _read(sysdir / "wwid") or _read(sysdir / "device" / "wwid")
    if wwid and wwid.startswith("naa."):
        return "0x" + wwid[4:]
    return _read(sysdir / "device" / "wwn")


def natural_key(name: str) -> list[str | int]:
    """sda, sdb, ..., loop2 before loop10, nvme0n1 before nvme1n1: the order a person reads."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _bus(sysdir: Path, name: str) -> str:
    """How the disk is attached: its sysfs device path goes through a USB controller."""
    if name.startswith("loop"):
        return "loop"
    try:
        return "usb" if "/usb" in str(sysdir.resolve()) else ""
    except OSError:
        return ""


def disk_names() -> list[str]:
    names = []
    for entry in sorted(SYS_BLOCK.iterdir(), key=lambda e: natural_key(e.name)):
        if not DISK_PATTERN.match(entry.name):
            continue
        if entry.name.startswith("loop") and not (entry / "loop" / "backing_file").exists():
            continue
        if (_read(entry / "size") or "0") == "0":
            continue
        names.append(entry.name)
    return names


def probe_disk(name: str, *, store_paths: list[str] | None = None, with_usage: bool = True) -> Disk:
    sysdir = SYS_BLOCK / name
    if not sysdir.exists():
        raise UsageError(_("No disk named {name}.").format(name=name),
                         _("Run 'oscar probe' to see the disks."))
    sectors = int(_read(sysdir / "size") or "0")
    sector_size = int(_read(sysdir / "queue" / "logical_block_size") or "512")
    path = f"/dev/{name}"
    disk = Disk(
        path=path,
        size=sectors * 512,  # /sys/block/*/size counts 512-byte units whatever the sector size
        sector_size=sector_size,
        model=_read(sysdir / "device" / "model"),
        serial=_serial(sysdir),
        wwn=_wwn(sysdir),
        backing_file=_read(sysdir / "loop" / "backing_file"),
        removable=_read(sysdir / "removable") == "1",
        bus=_bus(sysdir, name),
    )
    info = blkid(path)
    disk.pttype = info.get("PTTYPE")
    disk.ptuuid = info.get("PTUUID")
    mounts = mounted_devices()
    swaps = active_swaps()
    if disk.pttype in ("dos", "gpt"):
        result = run.run(["sfdisk", "-J", path], check=False)
        if result.returncode == 0:
            _label, _id, table_sector, entries = parse_sfdisk_json(result.stdout.decode())
            for entry in entries:
                disk.partitions.append(
                    _probe_partition(entry, table_sector, mounts, swaps, with_usage))
    store_disks = {found[0] for p in (store_paths or []) if (found := disk_of_path(p))}
    disk.holds_store = name in store_disks
    disk.is_boot_medium = name in boot_devices()
    return disk


def _probe_partition(entry: TableEntry, sector: int, mounts: dict[str, list[str]],
                     swaps: set[str], with_usage: bool) -> Partition:
    part = Partition(
        path=entry.node,
        number=entry.number,
        start=entry.start * sector,
        size=entry.size * sector,
        parttype=entry.type,
        partuuid=entry.uuid,
    )
    # Only partitions the kernel knows (sysfs) are probed: a stray file at the /dev path is not one.
    if (SYS_CLASS_BLOCK / os.path.basename(entry.node) / "partition").exists():
        info = blkid(entry.node)
        part.fstype = info.get("TYPE")
        part.label = info.get("LABEL")
        part.uuid = info.get("UUID")
        part.partuuid = part.partuuid or info.get("PART_ENTRY_UUID")
        name = os.path.basename(entry.node)
        number = devnum(name)
        part.mountpoints = mounts.get(number or "", [])
        holders = SYS_CLASS_BLOCK / name / "holders"
        held = holders.exists() and any(holders.iterdir())
        part.in_use = bool(part.mountpoints) or os.path.realpath(entry.node) in swaps or held
        if with_usage and part.fstype:
            part.used = used_bytes(entry.node, part.fstype, part.mountpoints)
        if part.encrypted:
            part.bitlocker = bitlocker.read_device(entry.node, part.size)
    return part


def probe_all(*, store_paths: list[str] | None = None, with_usage: bool = True) -> list[Disk]:
    return [probe_disk(n, store_paths=store_paths, with_usage=with_usage) for n in disk_names()]


def resolve_disk(spec: str, *, store_paths: list[str] | None = None,
                 with_usage: bool = True) -> Disk:
    """A disk given as a path (/dev/sda, /dev/loop3, /dev/disk/by-id/...) or as an identity."""
    if spec.startswith("/dev/"):
        real = os.path.realpath(spec)
        name = os.path.basename(real)
        if not (SYS_BLOCK / name).exists():
            if (SYS_CLASS_BLOCK / name / "partition").exists():
                raise UsageError(_("{spec} is a partition, not a disk.").format(spec=spec),
                                 _("Give the whole disk, and choose partitions with --parts."))
            raise UsageError(_("No disk at {spec}.").format(spec=spec),
                             _("Run 'oscar probe' to see the disks."))
        return probe_disk(name, store_paths=store_paths, with_usage=with_usage)
    matches = []
    for name in disk_names():
        disk = probe_disk(name, store_paths=store_paths, with_usage=False)
        if spec in (disk.identity, disk.serial, disk.wwn, disk.ptuuid, disk.name):
            matches.append(disk)
    if len(matches) > 1:
        raise UsageError(_("Several disks match '{spec}': {paths}.").format(
            spec=spec, paths=", ".join(d.path for d in matches)),
            _("The same disk is visible twice (multipath, or an image attached twice); "
              "remove the duplicate."))
    if matches:
        disk = matches[0]
        return probe_disk(disk.name, store_paths=store_paths, with_usage=True) \
            if with_usage else disk
    raise UsageError(_("No disk matches '{spec}'.").format(spec=spec),
                     _("Run 'oscar probe' and copy a path or an identity from its list."))
