"""partclone: block-level images of the used blocks of a filesystem (Clonezilla's format)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# blkid's type → partclone's program suffix.
PROGRAM = {
    "ntfs": "ntfs", "ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "vfat": "fat",
    "xfs": "xfs", "btrfs": "btrfs", "exfat": "exfat", "raw": "dd",
}
# Clonezilla writes 10 MiB buffers; fewer system calls for the same data.
BUFFER = 10 * 1024 * 1024
PERCENT = re.compile(r"Completed:\s*([\d.]+)%")
# partclone's progress thread sleeps "UI-fresh" whole seconds (default 2) between updates and
# the program only exits after its last sleep: every run lasts a multiple of that interval
# (measured: a 64 MB image takes 2.00 s with the default, 1.00 s with -f 1). 0 busy-loops
# (0.5 s more CPU and 10x the lines on a 470 MB ext4), so 1 is the shortest useful interval.
UI_REFRESH = ["-f", "1"]
_PROGRESS_NOISE = ("Elapsed:", "current block:", "Remaining:")

log = logging.getLogger("oscar.partclone")


LOG_PREFIX = "oscar-partclone-"


def _remove_stale_logs() -> None:
    """Logs of OSCAR processes that were killed before they could remove them."""
    for path in Path(tempfile.gettempdir()).glob(f"{LOG_PREFIX}*.log"):
        pid = path.name[len(LOG_PREFIX):].split("-", 1)[0].split(".", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                path.unlink()


@contextlib.contextmanager
def logfile() -> Iterator[str]:
    """A log file for one partclone run (it insists on one it can open, not /dev/null). Its
    messages, without the progress lines, go to OSCAR's log; the file is then removed."""
    _remove_stale_logs()
    fd, path = tempfile.mkstemp(prefix=f"{LOG_PREFIX}{os.getpid()}-", suffix=".log")
    os.close(fd)
    try:
        yield path
    finally:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = [line.strip() for line in fh.read().replace("\r", "\n").splitlines()]
            kept = [line for line in lines if line and not line.startswith(_PROGRESS_NOISE)]
            if kept:
                log.info("partclone log:\n  %s", "\n  ".join(kept[-40:]))
        except OSError:
            pass
        with contextlib.suppress(OSError):
            os.unlink(path)


def program(fstype: str) -> str:
    return f"partclone.{PROGRAM[fstype]}"


def supports(fstype: str | None) -> bool:
    return fstype in PROGRAM


def save_argv(fstype: str, device: str, logfile: str) -> list[str]:
    # partclone.dd copies bytes as they are: with -c it writes nothing at all (0.3.23).
    # -a0: no per-block CRC32 in the image. partclone's CRC code costs half the time of a save
    # on 2 cores (bench/save_restore: ext4 4.2 s -> 2.3 s, same size) and is redundant here:
    # OSCAR checks B2SUMS, zstd's frame checksums and the stream's hash before and while
    # writing. Clonezilla's partclone restores such images (the header says "no checksum").
    mode = [] if fstype == "raw" else ["-c", "-a0"]
    return [program(fstype), *mode, "-s", device, "-o", "-", "-z", str(BUFFER), *UI_REFRESH,
            "-L", logfile]


def restore_argv(fstype: str, device: str, logfile: str, *, overwrite: bool = False) -> list[str]:
    """``overwrite``: into an existing regular file (partclone refuses one with -o)."""
    mode = [] if fstype == "raw" else ["-r"]
    return [program(fstype), *mode, "-s", "-", "-O" if overwrite else "-o", device,
            "-z", str(BUFFER), *UI_REFRESH, "-L", logfile]


def copy_argv(fstype: str, source: str, device: str, logfile: str) -> list[str]:
    """Device (or image file) to device, used blocks only."""
    return [program(fstype), "-b", "-s", source, "-o", device, "-z", str(BUFFER), *UI_REFRESH,
            "-L", logfile]


def check_argv(logfile: str) -> list[str]:
    return ["partclone.chkimg", "-s", "-", *UI_REFRESH, "-L", logfile]


def image_name(part: str, fstype: str, suffix: str) -> str:
    """Clonezilla's name: sda1.ntfs-ptcl-img.zst (the fs as Clonezilla spells it)."""
    fs = "dd" if fstype == "raw" else fstype
    return f"{part}.{fs}-ptcl-img.{suffix}"


def parse_percent(line: str) -> float | None:
    match = PERCENT.search(line)
    return float(match.group(1)) if match else None
