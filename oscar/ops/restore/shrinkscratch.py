"""Block images shrunk in sparse files beside the backups, before the target disk is written.

When a block image's saved size does not fit on the target even for a moment (a 500 GB C: onto
a 256 GB disk), it is restored into a sparse file of its saved size (only the used blocks take
room), its filesystem shrunk there (ntfsresize, resize2fs: their own minimum checked), and, once
the table is written, its used blocks copied onto the partition (ntfsclone, partclone -b). All of
that happens before the first write to the disk: a filesystem that cannot shrink enough is
refused with nothing written. The files are removed at the end, or by the next run after a kill.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from oscar.backups.manifest import PartEntry
from oscar.core import run
from oscar.engine import fsresize, partclone
from oscar.ops.restore import imagewrite

log = logging.getLogger("oscar.shrinkscratch")
PREFIX = ".oscar-shrink-"
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-\d+\.img$")


def data_bytes(entries: list[PartEntry]) -> int:
    """What the images' used blocks take in their sparse files (scratch.pick_folder adds the
    margin a restore and a resize write beyond them)."""
    return sum(e.used or e.size for e in entries)


def remove_stale(folder: Path) -> None:
    """Files left by an OSCAR that was killed (its PID gone)."""
    for path in folder.glob(PREFIX + "*.img"):
        match = _NAME.search(path.name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            log.warning("removing %s, left by a killed OSCAR", path)
            with contextlib.suppress(OSError):
                path.unlink()


class ShrunkImages:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[int, Path] = {}

    def prepare(self, entry: PartEntry, chunks: Iterator[bytes], total: int, size: int,
                on_fraction: Callable[[float], None]) -> None:
        remove_stale(self.folder)
        path = self.folder / f"{PREFIX}{os.getpid()}-{entry.number}.img"
        with path.open("wb") as fh:
            fh.truncate(entry.size)
        self.files[entry.number] = path
        log.info("restoring %s into %s to shrink it to %d bytes", entry.name, path, size)
        imagewrite.write_block_image(entry, str(path), chunks, total, on_fraction,
                                     into_file=True)
        assert entry.fstype is not None
        fsresize.resize(entry.fstype, str(path), size)

    def copy_to(self, entry: PartEntry, device: str) -> None:
        path = self.files[entry.number]
        if entry.fstype == "ntfs":
            # --force: ntfsresize marks the volume for a check (Windows runs chkdsk once).
            run.run(["ntfsclone", "--overwrite", device, "--force", str(path)])
        else:
            assert entry.fstype is not None
            with partclone.logfile() as logfile:
                run.run(partclone.copy_argv(entry.fstype, str(path), device, logfile))
        log.info("shrunk %s copied onto %s", entry.name, device)

    def close(self) -> None:
        for path in self.files.values():
            with contextlib.suppress(OSError):
                path.unlink()
        self.files.clear()
