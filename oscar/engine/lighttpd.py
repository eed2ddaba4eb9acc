"""The HTTP server of asynchronous deployment and unicast catch-up: Debian's lighttpd serving
the backup store read-only (Range requests let a client resume an interrupted file)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from oscar import run

TEMPLATES = Path(__file__).parent / "templates"


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
    return run.spawn(serve_argv(config))
