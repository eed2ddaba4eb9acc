"""Partition tables: saved in Clonezilla's files (sfdisk dump, MBR, GPT copies), written back
with sfdisk, and the kernel told about the change.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from oscar.core import run
from oscar.core.errors import OscarError, TargetRefused
from oscar.core.i18n import _
from oscar.disks.devices import Disk, partition_path

log = logging.getLogger("oscar.ptable")

MBR_SIZE = 512
MBR_BOOT_CODE = 446  # bytes 0..445: boot code (and, from 440, the disk signature)
GPT_BOOT_CODE = 440  # on a protective MBR only the code itself is ours to copy
GPT_PRIMARY_SECTORS = 34
GPT_BACKUP_SECTORS = 33
MAX_ENTRIES = 256
HIDDEN_AFTER_MBR_MAX = 2048  # sectors; GRUB's core.img lives there on MBR disks


@dataclass
class SfEntry:
    number: int
    start: int  # sectors
    size: int  # sectors
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class SfTable:
    header: dict[str, str]
    entries: list[SfEntry]

    @property
    def label(self) -> str:
        return self.header.get("label", "dos")

    @property
    def sector_size(self) -> int:
        return int(self.header.get("sector-size", "512"))


# One item of a partition line: ``key=value`` (a value may be quoted, commas inside), or a
# bare word: sfdisk writes the MBR's active flag as ``bootable``, without a value.
_FIELD = re.compile(r'\s*([\w-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)')
FLAG = ""  # the value a bare word is kept with


def parse_sf(text: str) -> SfTable:
    """Parse ``sfdisk -d`` output (header lines, then ``node : key=value, ...`` lines). What
    does not read as numbers where sfdisk writes numbers is an error, never a guess."""
    header: dict[str, str] = {}
    entries: list[SfEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " : " in line:
            node, _sep, rest = line.partition(" : ")
            match = re.search(r"(\d{1,4})$", node.strip())
            if not match or len(entries) >= MAX_ENTRIES:
                raise OscarError(_("Unreadable partition table line: {line}").format(
                    line=line[:120]))
            fields = {m.group(1): (m.group(2) or FLAG).strip() for m in _FIELD.finditer(rest)}
            start, size = fields.pop("start", "0"), fields.pop("size", "0")
            if not (start.isdigit() and size.isdigit()) or len(start) > 20 or len(size) > 20:
                raise OscarError(_("Unreadable partition table line: {line}").format(
                    line=line[:120]))
            entries.append(SfEntry(int(match.group(1)), int(start), int(size), fields))
        else:
            key, _sep, value = line.partition(":")
            header[key.strip()] = value.strip()
    sector = header.get("sector-size", "512")
    if sector not in ("512", "1024", "2048", "4096") or \
            not all(header[k].isdigit() for k in ("first-lba", "last-lba") if k in header):
        raise OscarError(_("Unreadable partition table header."))
    return SfTable(header, entries)


def render_sf(table: SfTable, disk_path: str, *, keep_last_lba: bool) -> str:
    """A script for sfdisk that recreates ``table`` on ``disk_path`` (any name: sda, nvme0n1...)."""
    lines = []
    for key, value in table.header.items():
        if key == "device" or (key == "last-lba" and not keep_last_lba):
            continue
        lines.append(f"{key}: {value}")
    lines.append("")
    for entry in table.entries:
        parts = [f"start={entry.start}", f"size={entry.size}"]
        parts += [k if v == FLAG else f"{k}={v}" for k, v in entry.fields.items()]
        lines.append(f"{partition_path(disk_path, entry.number)} : {', '.join(parts)}")
    return "\n".join(lines) + "\n"


def file_names(disk_name: str, label: str) -> dict[str, str]:
    names = {"sf": f"{disk_name}-pt.sf", "mbr": f"{disk_name}-mbr",
             "parted": f"{disk_name}-pt.parted"}
    if label == "gpt":
        names.update(gpt1=f"{disk_name}-gpt-1st", gpt2=f"{disk_name}-gpt-2nd",
                     gdisk=f"{disk_name}.gdisk")
    else:
        names["hidden"] = f"{disk_name}-hidden-data-after-mbr"
    return names


def read_at(path: str, offset: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def _write_at(path: str, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def save(disk: Disk, folder: Path) -> list[str]:
    """Write Clonezilla's table files for ``disk`` into ``folder``; return their names."""
    dump = run.output(["sfdisk", "-d", disk.path])
    table = parse_sf(dump)
    names = file_names(disk.name, table.label)
    (folder / names["sf"]).write_text(dump)
    # Clonezilla's ocs-sr reads the saved disk's size and table type from parted's print in
    # sectors, and refuses an image without it.
    parted = run.run(["parted", "-s", disk.path, "unit", "s", "print"], check=False)
    printed = parted.stdout.decode("utf-8", "replace")
    if parted.returncode == 0 and re.search(r"^Disk /dev/\S+: \d+s$", printed, re.M):
        (folder / names["parted"]).write_text(printed)
    else:
        log.warning("parted could not print %s; no %s (Clonezilla will not restore this "
                    "backup)", disk.path, names["parted"])
        del names["parted"]
    sector = table.sector_size
    (folder / names["mbr"]).write_bytes(read_at(disk.path, 0, MBR_SIZE))
    if table.label == "gpt":
        (folder / names["gpt1"]).write_bytes(read_at(disk.path, 0, GPT_PRIMARY_SECTORS * sector))
        (folder / names["gpt2"]).write_bytes(
            read_at(disk.path, disk.size - GPT_BACKUP_SECTORS * sector, GPT_BACKUP_SECTORS * sector))
        run.run(["sgdisk", f"--backup={folder / names['gdisk']}", disk.path])
    else:
        first = min((e.start for e in table.entries), default=1)
        sectors = min(first, HIDDEN_AFTER_MBR_MAX) - 1
        if sectors > 0:
            (folder / names["hidden"]).write_bytes(read_at(disk.path, sector, sectors * sector))
        else:
            del names["hidden"]
    return list(names.values())


def check_keeps(table: SfTable, kept: list[tuple[int, int, int]]) -> None:
    """Refuse a table that would move or resize a partition that must stay byte-identical
    (the OSCAR partition holding the backups): (number, start bytes, size bytes) each."""
    sector = table.sector_size
    for number, start, size in kept:
        match = [e for e in table.entries if e.number == number]
        if not match or match[0].start * sector != start or match[0].size * sector != size:
            raise TargetRefused(
                _("The saved partition table would move or resize partition {n}, which holds "
                  "the backups.").format(n=number),
                _("Restore without --with-table, or restore onto another disk."))


@dataclass
class SavedTable:
    """The table files of a backup, already read and checked against the backup's checksums:
    the saved table as sfdisk printed it, the first sector, the sectors after it (MBR disks)."""

    table: SfTable
    mbr: bytes
    hidden: bytes | None = None


def write(target: Disk, saved: SavedTable, table: SfTable, *, in_use: bool, same: bool) -> None:
    """Write ``table`` (the saved one, or fitted to this disk: ``same`` False) onto ``target``,
    with the saved boot code."""
    same_size = same and target.size == _saved_disk_size(table)
    script = render_sf(table, target.path, keep_last_lba=same_size)
    argv = ["sfdisk", "--no-reread", "--wipe", "never", "--wipe-partitions", "never"]
    if in_use:
        argv.append("--force")  # a partition of this disk (the store) is mounted; it is kept as is
    run.run([*argv, target.path], input=script.encode())
    keep = GPT_BOOT_CODE if table.label == "gpt" else MBR_BOOT_CODE
    _write_at(target.path, 0, saved.mbr[:keep])
    if table.label != "gpt" and saved.hidden is not None \
            and saved.table.sector_size == table.sector_size:
        first = min((e.start for e in table.entries), default=0) * table.sector_size
        if table.sector_size + len(saved.hidden) <= first:
            _write_at(target.path, table.sector_size, saved.hidden)
        else:
            log.warning("hidden data after MBR does not fit before the first partition; skipped")
    refresh(target.path)


def _saved_disk_size(table: SfTable) -> int | None:
    last = table.header.get("last-lba")
    if last is None:
        return None
    return (int(last) + 1 + GPT_BACKUP_SECTORS) * table.sector_size


def kernel_partitions(disk_path: str) -> dict[int, tuple[int, int]]:
    """Partitions the kernel knows now: number → (start, size) in 512-byte units."""
    name = os.path.basename(disk_path)
    found = {}
    for entry in Path(f"/sys/block/{name}").iterdir():
        if (entry / "partition").exists():
            number = int((entry / "partition").read_text())
            found[number] = (int((entry / "start").read_text()), int((entry / "size").read_text()))
    return found


def refresh(disk_path: str) -> None:
    """Make the kernel's partitions match the table on the disk, and check that they do.

    BLKRRPART fails while a partition is mounted, and on some kernels (this project's CI) it
    returns success without doing anything; partx then removes, updates and adds partitions
    one by one (a mounted partition that did not change is left alone).
    """
    run.run(["blockdev", "--rereadpt", disk_path], check=False)
    table = parse_sf(run.output(["sfdisk", "-d", disk_path]))
    factor = table.sector_size // 512
    wanted = {e.number: (e.start * factor, e.size * factor) for e in table.entries}
    for number, geometry in kernel_partitions(disk_path).items():
        if wanted.get(number) != geometry:
            run.run(["partx", "-d", "--nr", str(number), disk_path], check=False)
    run.run(["partx", "-a", disk_path], check=False)
    now = kernel_partitions(disk_path)
    if {n: g for n, g in now.items() if n in wanted} != wanted:
        raise OscarError(_("The kernel did not take the new partition table of {disk}.").format(
            disk=disk_path), _("A partition of this disk is probably in use; restart the PC and "
                               "restore again."))
    for number in wanted:
        ensure_node(partition_path(disk_path, number))


def ensure_node(path: str) -> None:
    """The /dev node of a partition, created if no udev made it; never a regular file.

    Writing to a missing /dev node would create a plain file in RAM and report success.
    """
    name = os.path.basename(path)
    try:
        numbers = Path(f"/sys/class/block/{name}/dev").read_text().strip()
    except FileNotFoundError as exc:
        raise TargetRefused(_("The kernel does not know the partition {path}.").format(path=path),
                            _("Run 'partx -a' on the disk, or restart the PC.")) from exc
    major, minor = (int(x) for x in numbers.split(":"))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(major, minor))
        return
    if not stat.S_ISBLK(st.st_mode) or os.major(st.st_rdev) != major or \
            os.minor(st.st_rdev) != minor:
        raise TargetRefused(_("{path} is not the block device it should be.").format(path=path),
                            _("Remove the stray file, then try again."))
