"""One writer per disk: two OSCARs (the menu on the screen and on the serial line, or a menu
and a command) never save, restore or prepare the same disk at the same time."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from oscar.core import settings
from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.disks.devices import Disk


def lock_dir() -> Path:
    return settings.LOCK_DIR.path()


def _path(disk: Disk) -> Path:
    return lock_dir() / (hashlib.sha1(disk.identity.encode()).hexdigest()[:16] + ".lock")


@contextlib.contextmanager
def locked(disk: Disk) -> Iterator[None]:
    lock_dir().mkdir(parents=True, exist_ok=True)
    fd = os.open(_path(disk), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise TargetRefused(
                _("Another OSCAR is working on {disk} right now.").format(disk=disk.path),
                _("Wait for it to finish (look at the PC's other screens).")) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {disk.identity}\n".encode())
        yield
    finally:
        os.close(fd)


def busy(disk: Disk) -> bool:
    """True while another process holds the disk's lock."""
    try:
        with locked(disk):
            return False
    except TargetRefused:
        return True


def hold(name: str) -> int | None:
    """Take the lock ``name`` for as long as this process lives (restaure mode: one screen of
    the PC runs it, the others say so); None when another process has it."""
    lock_dir().mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir() / f"{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
