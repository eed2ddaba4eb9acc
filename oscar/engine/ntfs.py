"""NTFS state checks: a hibernated (fast startup) or dirty volume is reported, never forced."""

from __future__ import annotations

import os
import re

from oscar.core import run
from oscar.core.errors import NtfsNotClean
from oscar.core.i18n import _

# ntfs-3g.probe's exit codes (ntfs-3g's include/ntfs-3g/volume.h: NTFS_VOLUME_*).
OK = 0
CORRUPT = 13
HIBERNATED = 14
UNCLEAN = 15


def state_error(code: int, device: str) -> NtfsNotClean | None:
    if code == OK:
        return None
    if code == HIBERNATED:
        return NtfsNotClean(
            _("The Windows partition {dev} is hibernated (fast startup).").format(dev=device),
            _("Start Windows and shut it down fully (Shift + Shut down), or disable fast "
              "startup, then try again."))
    if code == UNCLEAN:
        return NtfsNotClean(
            _("The Windows partition {dev} was not shut down cleanly.").format(dev=device),
            _("Start Windows, run chkdsk, shut it down fully, then try again."))
    if code == CORRUPT:
        return NtfsNotClean(
            _("The Windows partition {dev} is damaged.").format(dev=device),
            _("Run chkdsk on it from Windows, then try again."))
    return NtfsNotClean(
        _("The NTFS partition {dev} cannot be read (code {code}).").format(dev=device, code=code),
        _("Check the partition with chkdsk from Windows."))


VOLUME_IS_DIRTY = 0x0001
_FLAGS = re.compile(r"Volume Flags:\s*0x([0-9a-fA-F]+)")


def parse_volume_flags(ntfsinfo_output: str) -> int | None:
    match = _FLAGS.search(ntfsinfo_output)
    return int(match.group(1), 16) if match else None


def check_clean(device: str) -> None:
    """Raise NtfsNotClean if Windows left the volume hibernated, dirty or damaged.

    Only the read-write probe looks at hiberfil.sys; it opens and closes the volume without
    changing a byte (checked by hashing the partition around it).
    """
    result = run.run(["ntfs-3g.probe", "--readwrite", device], check=False)
    error = state_error(result.returncode, device)
    if error is not None:
        raise error
    # The probe accepts a volume Windows marked dirty (chkdsk scheduled); ntfsclone does not,
    # and such a volume's contents may be inconsistent. ntfsinfo reads the flag (--force: it
    # refuses dirty volumes otherwise; it only reads).
    info = run.run(["ntfsinfo", "--force", "--mft", device], check=False)
    flags = parse_volume_flags(info.stdout.decode("utf-8", "replace"))
    if flags is not None and flags & VOLUME_IS_DIRTY:
        error = state_error(UNCLEAN, device)
        assert error is not None
        raise error


def copy_boot_sector_to_backup(device: str) -> bool:
    """Write the NTFS boot sector's copy (the "alternate boot sector") where NTFS expects it.

    partclone.ntfs restores the clusters of the volume only; the copy lies in the sector after
    the volume, so on a blank target it stays zero and ntfsfix/chkdsk report it bad.
    Returns False when the partition does not hold NTFS or the spot is outside it.
    """
    fd = os.open(device, os.O_RDWR)
    try:
        boot = os.pread(fd, 512, 0)
        if boot[3:11] != b"NTFS    ":
            return False
        sector = int.from_bytes(boot[0x0B:0x0D], "little")
        total = int.from_bytes(boot[0x28:0x30], "little")
        if sector not in (512, 1024, 2048, 4096):
            return False
        full = os.pread(fd, sector, 0)
        offset = total * sector
        size = os.lseek(fd, 0, os.SEEK_END)
        if offset + sector > size:
            return False
        os.pwrite(fd, full, offset)
        os.fsync(fd)
        return True
    finally:
        os.close(fd)


HIDDEN_SECTORS = 0x1C  # the partition's start, in sectors: Windows' boot code reads it


def boot_geometry(device: str) -> tuple[int, int, int] | None:
    """(hidden sectors, heads, sectors per track) of an NTFS boot sector; None if not NTFS."""
    fd = os.open(device, os.O_RDONLY)
    try:
        boot = os.pread(fd, 512, 0)
    finally:
        os.close(fd)
    if boot[3:11] != b"NTFS    ":
        return None
    return (int.from_bytes(boot[HIDDEN_SECTORS:HIDDEN_SECTORS + 4], "little"),
            int.from_bytes(boot[0x1A:0x1C], "little"), int.from_bytes(boot[0x18:0x1A], "little"))


def fixboot_argv(device: str, start: int, heads: int, per_track: int) -> list[str]:
    """Debian's partclone.ntfsfixboot, as Clonezilla runs it after moving an NTFS partition;
    the geometry given (-h/-t) and -b because a loop or USB partition answers no geometry
    ioctl. The heads and sectors per track are the saved ones."""
    return ["partclone.ntfsfixboot", "-b", "-s", str(start), "-h", str(heads or 255),
            "-t", str(per_track or 63), "-w", device]
