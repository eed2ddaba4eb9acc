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


class QuietTerminal:
    """While the menu draws on the terminal, nothing else may write to it: a log line or a
    tool's message printed over the screen stays there until a full redraw (a WARNING once
    covered the footer). The log's console handlers are taken off and the process's standard
    error (fd 2, which every child inherits) goes to OSCAR's log file; ``lent()`` gives the
    terminal back to a program that needs it (the shell, cfdisk)."""

    def __init__(self) -> None:
        self._saved_fd: int | None = None
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._last_resort: logging.Handler | None = None

    def __enter__(self) -> QuietTerminal:
        for logger in (logging.getLogger(), logging.getLogger("oscar")):
            for handler in list(logger.handlers):
                if isinstance(handler, logging.StreamHandler) and not isinstance(
                        handler, logging.FileHandler):
                    logger.removeHandler(handler)
                    self._handlers.append((logger, handler))
        # Records of other libraries' loggers would reach logging.lastResort (stderr).
        self._last_resort, logging.lastResort = logging.lastResort, None
        self._divert()
        return self

    def _divert(self) -> None:
        try:
            target = os.open(main_log(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            target = os.open(os.devnull, os.O_WRONLY)
        self._saved_fd = os.dup(2)
        os.dup2(target, 2)
        os.close(target)

    def _undivert(self) -> None:
        if self._saved_fd is not None:
            os.dup2(self._saved_fd, 2)
            os.close(self._saved_fd)
            self._saved_fd = None

    @contextlib.contextmanager
    def lent(self) -> Iterator[None]:
        """The terminal's own standard error back, for a program that takes the terminal."""
        if self._saved_fd is None:  # not quieted (headless, or before the loop runs)
            yield
            return
        self._undivert()
        try:
            yield
        finally:
            self._divert()

    def __exit__(self, *exc: object) -> None:
        self._undivert()
        logging.lastResort = self._last_resort
        for logger, handler in self._handlers:
            logger.addHandler(handler)
        self._handlers.clear()
