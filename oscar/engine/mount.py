"""Mount a partition for a while (NTFS through ntfs-3g), always unmounted afterwards."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from oscar.core import run
from oscar.core.errors import CommandFailed


@contextlib.contextmanager
def mounted(device: str, fstype: str | None, *, readonly: bool = False) -> Iterator[Path]:
    point = Path(tempfile.mkdtemp(prefix="oscar-mnt-"))
    if fstype == "ntfs":
        opts = "ro" if readonly else "rw"
        run.run(["ntfs-3g", "-o", f"{opts},streams_interface=xattr", device, str(point)])
    else:
        run.run(["mount", "-o", "ro" if readonly else "rw", device, str(point)])
    try:
        yield point
    finally:
        for attempt in range(10):
            try:
                run.run(["umount", str(point)])
                break
            except CommandFailed:
                if attempt == 9:
                    raise
                time.sleep(0.5)
        point.rmdir()
