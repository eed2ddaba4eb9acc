"""Cancelling the running operation from another thread (the TUI's "Cancel" key).

``request()`` kills every tool OSCAR started (SIGTERM, so fsarchiver can unmount its temporary
mount) and makes every later ``check()`` raise Aborted: long Python loops (hashing) call it, and
the process runner calls it before starting anything. The engine's own clean-up (a partial
backup folder removed, nothing published) runs as the Aborted exception unwinds.
"""

from __future__ import annotations

import signal
import subprocess
import threading

from oscar.core.errors import Aborted
from oscar.core.i18n import _

_requested = threading.Event()
_lock = threading.Lock()
_live: set[subprocess.Popen[bytes]] = set()


def request() -> None:
    _requested.set()
    with _lock:
        procs = list(_live)
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass


def reset() -> None:
    _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    if _requested.is_set():
        raise Aborted(_("Cancelled by the user."))


def started(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _live.add(proc)
    if _requested.is_set() and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)


def finished(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _live.discard(proc)
