"""A throw-away block device: a sparse file on a loop device, for a trial restore.

fsarchiver has no "test" mode: the only proof that an archive restores is restoring it. The
trial writes only into a sparse file that is unlinked as soon as it is attached (its space
returns when the loop device is detached, even if OSCAR is killed before it removes it), in
the first folder with room for the data: never onto a disk of the PC.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from oscar.core import run

log = logging.getLogger("oscar.scratch")
PREFIX = ".oscar-scratch-"
MARGIN = 64 << 20  # filesystem metadata the restore writes beyond the data
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)\.img")


def room_in(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def needed(data_bytes: int) -> int:
    """The free space a sparse file holding ``data_bytes`` of used blocks asks for."""
    return int(data_bytes * 1.1) + MARGIN


def pick_folder(candidates: list[Path], data_bytes: int) -> Path | None:
    """The first candidate folder with room for ``data_bytes`` written into a sparse file."""
    need = needed(data_bytes)
    for folder in candidates:
        try:
            if folder.is_dir() and room_in(folder) >= need:
                return folder
        except OSError:
            continue
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_devices() -> list[str]:
    """Loop devices left attached to a scratch file by an OSCAR that was killed."""
    stale = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            text = backing.read_text().strip()
        except OSError:
            continue
        match = _NAME.search(os.path.basename(text.removesuffix(" (deleted)")))
        if match and not _pid_alive(int(match.group(1))):
            stale.append("/dev/" + backing.parent.parent.name)
    return stale


def cleanup_stale() -> None:
    for device in stale_devices():
        log.warning("detaching %s, a scratch device left by a killed OSCAR", device)
        run.run(["losetup", "-d", device], check=False)


@contextlib.contextmanager
def device(size: int, folder: Path) -> Iterator[str]:
    """A loop device of ``size`` bytes backed by a sparse file in ``folder``."""
    cleanup_stale()
    path = folder / f"{PREFIX}{os.getpid()}.img"
    with path.open("wb") as fh:
        fh.truncate(size)
    try:
        dev = run.output(["losetup", "--find", "--show", str(path)]).strip()
    finally:
        path.unlink()
    try:
        yield dev
    finally:
        run.run(["losetup", "-d", dev], check=False)
