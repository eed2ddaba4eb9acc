"""fsarchiver: file-level archives of any filesystem (restorable into a smaller partition)."""

from __future__ import annotations

import os
import re

PERCENT = re.compile(r"^-\[\d+\]\[\s*(\d+)%\]")
SUPPORTED = ("ext2", "ext3", "ext4", "ntfs", "vfat", "xfs", "btrfs", "exfat")


def threads() -> int:
    return max(1, os.cpu_count() or 1)


def compression_options(compress: str, level: int | None = None) -> list[str]:
    if compress == "zstd":
        return [f"-Z{level or 3}"]
    if compress == "gzip":
        return ["-z4"]  # fsarchiver's legacy level 4 is gzip -6
    return ["-z0"]


def save_argv(device: str, archive: str, compress: str, level: int | None = None,
              fstype: str | None = None) -> list[str]:
    # fsarchiver 0.8 calls its NTFS support "experimental" and wants -x to save NTFS.
    experimental = ["-x"] if fstype == "ntfs" else []
    return ["fsarchiver", "savefs", "-v", *experimental, f"-j{threads()}",
            *compression_options(compress, level), archive, device]


def restore_argv(archive: str, device: str, *, fstype: str | None = None,
                 sector: int = 512) -> list[str]:
    spec = f"id=0,dest={device}"
    if sector > 1024 and fstype in ("ext2", "ext3", "ext4"):
        # fsarchiver makes the filesystem again with the saved block size; mke2fs refuses
        # blocks smaller than the device's sectors (a 4Kn disk): the last -b wins.
        spec += f",mkfs={fstype},mkfsopt=-b {max(4096, sector)}"
    return ["fsarchiver", "restfs", "-v", f"-j{threads()}", archive, spec]


def archinfo_argv(archive: str) -> list[str]:
    return ["fsarchiver", "archinfo", archive]


def archive_name(part: str) -> str:
    return f"{part}.fsa"


def parse_percent(line: str) -> float | None:
    match = PERCENT.search(line)
    return float(match.group(1)) if match else None
