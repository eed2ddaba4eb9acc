"""The server's side of a deployment: announce, let the clients register, send the backup
once by multicast (synchronous) or serve it over HTTP (asynchronous, and catch-up for the
clients that missed the session), follow the room, write the report into the store."""

from __future__ import annotations

import base64
import contextlib
import datetime
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oscar.backups import checksums, manifest
from oscar.backups.store import Store, fsync_dir
from oscar.core import cancel, run, tools
from oscar.core.errors import OscarError, TargetRefused, UsageError, os_reason
from oscar.core.i18n import _, ngettext
from oscar.core.progress import Progress
from oscar.engine import lighttpd, netinfo, udpcast
from oscar.net.deploy import beacon, procedures, stream
from oscar.net.deploy.control import ControlServer
from oscar.net.deploy.receiver import CONTROL_PORT
from oscar.net.deploy.report import Report, render_table
from oscar.net.deploy.room import Room
from oscar.ops.personalise import clients as clients_file
from oscar.ops.verify import check_headers, check_integrity

log = logging.getLogger("oscar.deploy")
MODES = ("multicast", "unicast")
THEN = ("none", "reboot", "poweroff")
HTTP_PORT = 7172
PORTBASE = 9000
WORK_ROOT = Path("/run/oscar/deploy")

# phase, clients table (text) → the CLI prints it, the TUI shows it
UpdateCallback = Callable[[str, str], None]


@dataclass
class SendOptions:
    store: str
    name: str
    procedure: str
    mode: str = "multicast"
    clients: int = 1
    max_wait: int = 300
    interface: str | None = None
    then: str = "none"
    portbase: int = PORTBASE
    control_port: int = CONTROL_PORT
    http_port: int = HTTP_PORT
    max_bitrate: str | None = None
    clients_file: str | None = None  # OSCAR_déploie: each client personalises itself from it
    layout: str = "proportional"  # how clients with another disk size fit the table (fit.py)


def refuse_encrypted(man: manifest.Manifest) -> None:
    """A raw copy of a BitLocker volume opens only with the TPM of the PC it came from: on any
    other PC Windows would stop at its recovery screen."""
    encrypted = [p.number for p in man.partitions if p.bitlocker == "encrypted"]
    if encrypted:
        raise TargetRefused(
            _("The backup '{name}' holds BitLocker partition {n} copied encrypted: it cannot be "
              "deployed, since each PC's TPM holds its own key.").format(
                name=man.name, n=encrypted[0]),
            _("Save the model PC again with its BitLocker key (oscar save "
              "--bitlocker-key-stdin): a decrypted backup deploys like any other."))


def build_header(folder: Path, man: manifest.Manifest, proc: procedures.Procedure,
                 session: str, opts: SendOptions, http_url: str) -> dict[str, Any]:
    sums = checksums.read(folder)
    small_names = procedures.small_files(man)
    files = procedures.files_to_send(man, proc)
    missing = [f for f in [*small_names, *files] if not (folder / f).is_file()]
    if missing:
        raise UsageError(_("Files missing from the backup: {files}").format(
            files=", ".join(missing)), _("Save again."))
    return {
        "kind": "oscar-deploy/1", "session": session, "backup": man.name,
        "procedure": proc.name, "then": opts.then, "layout": opts.layout,
        "small": {n: base64.b64encode((folder / n).read_bytes()).decode() for n in small_names},
        "files": [{"name": f, "size": (folder / f).stat().st_size, "b2": sums.get(f, "")}
                  for f in files],
        "http": http_url, "portbase": opts.portbase,
        # a waiting client's udp-receiver gives up after this (the server waits max_wait)
        "start_timeout": opts.max_wait + 120,
    }


class Sender:
    def __init__(self, opts: SendOptions) -> None:
        if opts.mode not in MODES:
            raise UsageError(_("Unknown mode {mode}.").format(mode=opts.mode),
                             _("Use multicast or unicast."))
        if opts.clients < 1:
            raise UsageError(_("--clients must be 1 or more."), _("Give the number of PCs."))
        if opts.max_bitrate is not None and not re.fullmatch(r"\d+[kKmMgG]?", opts.max_bitrate):
            raise UsageError(_("'{rate}' is not a bit rate.").format(rate=opts.max_bitrate),
                             _("Write it like 500m (500 Mbit/s) or 80000k."))
        if opts.then not in THEN:
            raise UsageError(_("Unknown --then {what}.").format(what=opts.then),
                             _("Use none, reboot or poweroff."))
        self.opts = opts
        self.proc = procedures.get(opts.procedure)
        self.store = Store(opts.store)
        entry = self.store.get(opts.name)
        if entry.state != "complete" or entry.manifest is None:
            raise UsageError(_("The backup '{name}' is not usable ({state}).").format(
                name=opts.name, state=entry.state),
                entry.problem or _("Deploy a complete OSCAR backup."))
        refuse_encrypted(entry.manifest)
        self.iface = netinfo.choose(opts.interface)
        self.folder = entry.folder
        self.man = entry.manifest
        self.session = uuid.uuid4().hex[:12]
        address = self.iface.address
        assert address is not None
        self.address = address
        self.http_url = f"http://{address}:{opts.http_port}/{self.man.name}/"
        self.header = build_header(self.folder, self.man, self.proc, self.session, opts,
                                   self.http_url)
        if opts.clients_file is not None:
            # checked whole now: a bad line is refused before any client is written
            path = Path(opts.clients_file)
            room = clients_file.load(path)
            for warning in room.warnings:
                log.warning("%s", warning)
            self.header["clients"] = {"name": path.name, "text": room.text}
            log.info("clients file %s: %d clients", path, len(room.clients))
        self.room = Room()
        self.phase = "waiting"
        self.multicast_started = False
        self.multicast_members: set[str] = set()
        self.receiver_numbers: dict[int, str] = {}  # udp-sender's #N → address
        self.dropped_addresses: set[str] = set()
        self.sent = 0
        self.total = sum(f["size"] for f in self.header["files"])
        self.session_error: OscarError | None = None

    def check_backup(self, progress: Progress | None = None) -> None:
        """Every checksum of the backup, before a client is told to start: a damaged backup
        is refused here rather than written onto a whole room (clients check again)."""
        sums = check_integrity(self.folder, self.man, progress)
        check_headers(self.folder, self.man, sums)

    def required_tools(self) -> list[str]:
        return ["lighttpd", "ip", *(["udp-sender"] if self.opts.mode == "multicast" else [])]

    def _choose_mode(self) -> str:
        # a client that registers once the session began (late, or rebooted) catches up by HTTP
        if self.opts.mode == "multicast" and not self.multicast_started:
            return "multicast"
        return "http"

    def _left_out(self, mac: str) -> bool:
        """A client in the multicast mode that will never get the session's end: it was not
        ready when the session started, or udp-sender dropped it (cut off, too slow)."""
        if not self.multicast_started:
            return False
        for c in self.room.snapshot():
            if c.mac != mac or c.mode != "multicast" or c.final:
                continue
            if mac not in self.multicast_members and c.state == "waiting":
                return True
            if c.ip in self.dropped_addresses:
                return True
        return False

    def run(self, on_update: UpdateCallback | None = None) -> Report:
        tools.require_all(self.required_tools())
        started = datetime.datetime.now().isoformat(timespec="seconds")
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=WORK_ROOT, prefix="server-") as work, \
                contextlib.ExitStack() as running:
            http = lighttpd.start(self.store.root, self.address, self.opts.http_port, Path(work))
            running.callback(http.stop)
            try:
                control = ControlServer(self.address, self.opts.control_port, self.room,
                                        self.header, self._choose_mode, self._left_out)
            except OSError as exc:
                raise OscarError(_("Cannot listen on {address}:{port}: {why}").format(
                    address=self.address, port=self.opts.control_port, why=os_reason(exc)),
                    _("Another deployment may be running on this PC.")) from exc
            control.start()
            running.callback(control.stop)
            announce = beacon.Beacon(self.iface.name, self.iface.broadcast or "255.255.255.255",
                                     f"http://{self.address}:{self.opts.control_port}",
                                     self.session)
            announce.start()
            running.callback(announce.stop)
            log.info("deployment %s of '%s' (%s, %s) on %s, waiting for %d clients",
                     self.session, self.man.name, self.proc.name, self.opts.mode,
                     self.iface.name, self.opts.clients)
            self._follow(on_update)
        report = Report(self.session, self.man.name, self.proc.name, self.opts.mode, started,
                        datetime.datetime.now().isoformat(timespec="seconds"), self.sent,
                        self.room.snapshot(), personalising="clients" in self.header)
        self._write_report(report)
        return report

    def _update(self, on_update: UpdateCallback | None) -> None:
        cancel.check()  # Esc in the TUI, Ctrl-C in the CLI: the servers stop in run()
        self.room.mark_lost()
        if on_update is not None:
            on_update(self.phase, render_table(self.room.snapshot(), self._phase_line()))

    def _phase_line(self) -> str:
        ready = self.room.count("waiting")
        if self.phase == "waiting":
            return _("Waiting for the clients: {ready}/{wanted} ready").format(
                ready=ready, wanted=self.opts.clients)
        if self.phase == "sending":
            # xgettext: no-python-format ("% sent" is not a %-placeholder)
            line = _("Multicast: {percent:.0f} % sent").format(
                percent=100 * self.sent / max(self.total, 1))
            if self.dropped_addresses:
                line += " — " + ngettext("no answer, left out: {addresses}",
                                         "no answer, left out: {addresses}",
                                         len(self.dropped_addresses)).format(
                    addresses=", ".join(sorted(self.dropped_addresses)))
            return line
        clients = self.room.snapshot()
        if any(c.mode == "http" and not c.final for c in clients):
            return _("Serving the clients that catch up (HTTP)")
        if any(not c.final for c in clients):
            return _("Sent; the clients write and check what they received")
        done, failed, refused = (sum(c.state == state for c in clients)
                                 for state in ("done", "failed", "refused"))
        return _("Finished: {done}, {failed}, {refused}").format(
            done=ngettext("{n} done", "{n} done", done).format(n=done),
            failed=ngettext("{n} failed", "{n} failed", failed).format(n=failed),
            refused=ngettext("{n} refused", "{n} refused", refused).format(n=refused))

    def _follow(self, on_update: UpdateCallback | None) -> None:
        opts = self.opts
        start = time.monotonic()
        if opts.mode == "multicast":
            # a client that refused (its disk does not fit) has given its final answer: the
            # session starts as soon as every other expected client is ready
            while self.room.count("waiting", "refused") < opts.clients and \
                    time.monotonic() - start < opts.max_wait:
                self._update(on_update)
                self.room.wait(1.0)
            # from now on, a client that registers is sent to HTTP; one that was told
            # "multicast" but is not ready yet is told to catch up when it reports
            self.multicast_started = True
            self.multicast_members = {c.mac for c in self.room.snapshot()
                                      if c.state == "waiting"}
            ready = len(self.multicast_members)
            if ready:
                self.phase = "sending"
                sending = threading.Thread(target=self._multicast, args=(ready,), daemon=True,
                                           name="deploy-multicast")
                sending.start()
                while sending.is_alive():
                    self._update(on_update)
                    sending.join(1.0)
                if self.session_error is not None:
                    log.error("multicast session: %s", self.session_error.message)
        self.phase = "serving"
        # The server stays while a client is at work, and until the room is complete or the
        # room was idle for max_wait (a rebooted client can still come back and catch up).
        idle_since = time.monotonic()
        while True:
            self._update(on_update)
            clients = self.room.snapshot()
            busy = [c for c in clients if not c.final]
            if busy:
                idle_since = time.monotonic()
            answered = sum(1 for c in clients if c.state in ("done", "refused"))
            if not busy and (answered >= opts.clients or
                             time.monotonic() - idle_since >= opts.max_wait):
                break
            self.room.wait(1.0)
        self._update(on_update)

    def _multicast(self, receivers: int) -> None:
        def counted() -> Any:
            for block in stream.write(self.header, self.folder,
                                      [f["name"] for f in self.header["files"]]):
                self.sent += len(block)
                yield block

        try:
            # the receivers are already listening: a short wait is enough for them to connect
            run.pipeline([udpcast.sender_argv(self.iface.name, self.opts.portbase, receivers,
                                              max_wait=30, max_bitrate=self.opts.max_bitrate)],
                         source=counted(), on_line=lambda _stage, line: self._udp_line(line))
        except OscarError as exc:
            self.session_error = exc

    def _udp_line(self, line: str) -> None:
        joined = udpcast.connection(line)
        if joined is not None:
            log.info("udpcast: %s joined the session as #%d", *joined)
            self.receiver_numbers[joined[1]] = joined[0]
            return
        number = udpcast.dropped_number(line)
        if number is not None:
            # the others go on; that client is told to catch up by HTTP when it reports
            address = self.receiver_numbers.get(number, "?")
            # the log keeps udpcast's words; the console shows it in the client's row
            log.info("udpcast: %s (%s) dropped: it stopped answering", address, line)
            self.dropped_addresses.add(address)
            self.room.note(address, _("no answer: left out of the multicast, it catches up "
                                      "by HTTP once back"))

    def _write_report(self, report: Report) -> None:
        logs = self.folder / "logs"
        try:
            logs.mkdir(exist_ok=True)
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            for suffix, text in (("md", report.to_markdown()), ("json", report.to_json())):
                path = logs / f"deploy-{stamp}-{self.session}.{suffix}"
                path.write_text(text, encoding="utf-8")
            fsync_dir(logs)
            self.report_paths = sorted(logs.glob(f"deploy-*-{self.session}.*"))
        except OSError as exc:
            log.error("cannot write the report into %s: %s", logs, exc)

    report_paths: list[Path] = []
