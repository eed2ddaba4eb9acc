"""Writing one block image (ntfsclone, partclone) onto a partition or into a file."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from oscar.backups import methods
from oscar.backups.manifest import PartEntry
from oscar.core import run
from oscar.engine import compress as compression
from oscar.engine import ntfs, ntfsclone, partclone


def write_block_image(entry: PartEntry, dest: str, chunks: Iterator[bytes], total: int,
                      on_fraction: Callable[[float], None], *, into_file: bool = False) -> None:
    """Decompress and write ``chunks`` (the image's files, checked as they are read) to
    ``dest``; ``into_file``: a sparse file already made at the saved size."""
    stages: list[list[str]] = []
    decompress = compression.decompress_argv(entry.compress or "none")
    if decompress:
        stages.append(decompress)
    if entry.method == "ntfsclone":
        stages.append(ntfsclone.restore_argv(dest))

    def source() -> Iterator[bytes]:
        done = 0
        for chunk in chunks:
            done += len(chunk)
            on_fraction(done / (total or 1))
            yield chunk

    with partclone.logfile() as logfile:
        if entry.method != "ntfsclone":
            stages.append(partclone.restore_argv(methods.partclone_fs(entry), dest, logfile,
                                                 overwrite=into_file))
        run.pipeline(stages, source=source())
    if entry.method == "partclone" and entry.fstype == "ntfs":
        ntfs.copy_boot_sector_to_backup(dest)
