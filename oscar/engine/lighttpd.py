"""The HTTP server of asynchronous deployment and unicast catch-up: Debian's lighttpd serving
the backup store read-only (Range requests let a client resume an interrupted file)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import jinja2

from oscar.core import run
from oscar.core.errors import CommandFailed
from oscar.core.i18n import _
from oscar.data import TEMPLATES as DATA_TEMPLATES

TEMPLATES = DATA_TEMPLATES


def render_config(root: Path, address: str, port: int, pidfile: Path, errorlog: Path) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("lighttpd.conf.j2").render(
        root=str(root), address=address, port=port, pidfile=str(pidfile),
        errorlog=str(errorlog))


def check_argv(config: Path) -> list[str]:
    return ["lighttpd", "-tt", "-f", str(config)]


def serve_argv(config: Path) -> list[str]:
    return ["lighttpd", "-D", "-f", str(config)]  # -D: in the foreground, stopped with us


def start(root: Path, address: str, port: int, workdir: Path) -> run.Background:
    config = workdir / "lighttpd.conf"
    config.write_text(render_config(root, address, port, workdir / "lighttpd.pid",
                                    workdir / "lighttpd-error.log"))
    run.run(check_argv(config))
    server = run.spawn(serve_argv(config))
    # lighttpd checks its port only when it binds: wait until it answers, or report its end
    for _attempt in range(50):
        if not server.running():
            server.finish()  # raises CommandFailed with lighttpd's own message
            raise CommandFailed(_("lighttpd stopped at once."), _("See the log."))
        try:
            socket.create_connection((address, port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise CommandFailed(_("lighttpd does not answer on {address}:{port}.").format(
        address=address, port=port), _("Another program may use that port."))
