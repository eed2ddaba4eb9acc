"""The server's control channel: clients register and report over HTTP (JSON). The images
themselves travel by udpcast or lighttpd, never through this small server."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.net.deploy.room import Room

log = logging.getLogger("oscar.deploy")
MAX_BODY = 64 << 10
TIMEOUT = 10

# decides, when a client registers, whether it joins the multicast session or catches up by
# HTTP; returns the mode
ModeChooser = Callable[[], str]


class ControlServer:
    def __init__(self, address: str, port: int, room: Room, header: dict[str, Any],
                 choose_mode: ModeChooser, left_out: Callable[[str], bool]) -> None:
        self.room = room
        self.header = header
        self.choose_mode = choose_mode
        # a client told "multicast" that the session started without: it must catch up
        self.left_out = left_out
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("control: " + format, *args)

            def _reply(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/session":
                    self._reply(200, {"header": control.header})
                else:
                    self._reply(404, {"error": "unknown"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._reply(413, {"error": "too large"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    mac = str(body["mac"])[:64]
                    disk_size = int(body.get("disk_size") or 0)
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                    self._reply(400, {"error": "bad request"})
                    return
                if self.path == "/register":
                    mode = control.choose_mode()
                    control.room.register(
                        mac, self.client_address[0], mode, disk=str(body.get("disk", ""))[:200],
                        disk_size=max(0, disk_size), hostname=str(body.get("hostname", ""))[:64])
                    log.info("client %s (%s) registered, %s", mac, self.client_address[0], mode)
                    self._reply(200, {"mode": mode, "header": control.header})
                elif self.path == "/report":
                    known = control.room.report(mac, body)
                    self._reply(200 if known else 404, {
                        "ok": known, "catch_up": known and control.left_out(mac)})
                else:
                    self._reply(404, {"error": "unknown"})

        self.httpd = _QuietServer((address, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="deploy-control")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _QuietServer(ThreadingHTTPServer):
    """A request that breaks a handler goes to the log, never as a traceback on the console
    the technician watches."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.error("control: request from %s failed", client_address, exc_info=True)


def call(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request to the server's control channel; a clear error when it is unreachable."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json"}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read(MAX_BODY * 64))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OscarError(_("The deployment server does not answer ({url}): {why}").format(
            url=url, why=getattr(exc, "reason", exc)),
            _("Check the network cable, and that the server is waiting for clients.")) from exc
    if not isinstance(answer, dict):
        raise OscarError(_("The deployment server answered nonsense."), _("Start it again."))
    return answer
