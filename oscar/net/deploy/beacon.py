"""How a client finds its server with no address typed: the server broadcasts a small UDP
announcement on its interface every second; the client listens for it."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

from oscar.core.errors import OscarError
from oscar.core.i18n import _

log = logging.getLogger("oscar.deploy")
PORT = 7170
KIND = "oscar-deploy/1"
INTERVAL = 1.0


def payload(control_url: str, session: str) -> bytes:
    return json.dumps({"kind": KIND, "control": control_url, "session": session}).encode()


def parse(data: bytes) -> tuple[str, str] | None:
    try:
        found = json.loads(data)
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("kind") != KIND:
        return None
    control, session = found.get("control"), found.get("session")
    if isinstance(control, str) and isinstance(session, str):
        return control, session
    return None


def _bind_to(sock: socket.socket, interface: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())


class Beacon:
    def __init__(self, interface: str, broadcast: str, control_url: str, session: str) -> None:
        self.message = payload(control_url, session)
        self.target = (broadcast, PORT)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        _bind_to(self.sock, interface)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="deploy-beacon")

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sock.sendto(self.message, self.target)
            except OSError as exc:
                log.warning("beacon: %s", exc)
            self.stopping.wait(INTERVAL)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()


def listen(interface: str, timeout: float, session: str | None = None) -> str:
    """The control URL of the first server heard (of ``session`` when given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _bind_to(sock, interface)
    sock.bind(("", PORT))
    end = time.monotonic() + timeout
    try:
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, sender = sock.recvfrom(4096)
            except TimeoutError:
                break
            found = parse(data)
            if found is not None and (session is None or found[1] == session):
                log.info("deployment server found: %s (from %s)", found[0], sender[0])
                return found[0]
    finally:
        sock.close()
    raise OscarError(_("No deployment server was heard on {interface} in {seconds} s.").format(
        interface=interface, seconds=int(timeout)),
        _("Start the deployment on the server first, or give its address with --server."))
