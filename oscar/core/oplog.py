"""Operation logs: every command line an operation ran, kept where the technician looks.

A save keeps its log inside the backup (covered by B2SUMS); a restore appends a log of its own
under the backup's ``logs/`` folder (not covered by B2SUMS, so the backup stays verifiable and
a read-only store still restores: the log then goes to /var/log/oscar or the temp folder).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOGS_DIR = "logs"
FORMAT = "%(asctime)s %(name)s: %(message)s"
# OSCAR's own log: the first of these folders that accepts it.
MAIN_LOG_DIRS = (Path("/var/log/oscar"), Path.home() / ".cache/oscar")
_main_log: Path | None = None


def open_main_log() -> logging.Handler:
    """The handler of OSCAR's own log (every command of every run); remembers where it is."""
    global _main_log
    for folder in MAIN_LOG_DIRS:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.FileHandler(folder / "oscar.log")
        except OSError:
            continue
        _main_log = folder / "oscar.log"
        return handler
    return logging.NullHandler()


def main_log() -> Path:
    """Where OSCAR's own log is (what the menu shows and names in its error screens)."""
    return _main_log or MAIN_LOG_DIRS[0] / "oscar.log"


@contextlib.contextmanager
def logging_to(path: Path) -> Iterator[Path]:
    """Send every record of the ``oscar`` loggers (INFO and up) to ``path`` while inside."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("oscar")
    previous = root.level
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def restore_log_path(backup: Path, target_name: str, now: datetime.datetime | None = None,
                     fallbacks: tuple[Path, ...] | None = None) -> Path:
    """Where a restore of ``backup`` onto disk ``target_name`` writes its log: the first of
    the backup's logs/ folder, /var/log/oscar, the temp folder that accepts a file."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    filename = f"restore-{stamp}-{target_name}.log"
    places = (backup / LOGS_DIR, *(fallbacks if fallbacks is not None else (
        Path("/var/log/oscar"), Path(tempfile.gettempdir()))))
    for place in places:
        try:
            place.mkdir(parents=True, exist_ok=True)
            candidate = place / filename
            with candidate.open("a", encoding="utf-8"):
                pass
            return candidate
        except OSError:
            continue
    raise OSError(f"no writable place for {filename}")


def restore_logs(backup: Path) -> list[Path]:
    folder = backup / LOGS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".log")


def fsync_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
