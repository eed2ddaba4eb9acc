"""What a client does, with no question asked: find the server, register, check its disk,
receive, verify, write, report, then reboot or power off as the server asked."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oscar.backups import checksums, manifest, oscarpart
from oscar.backups.store import Store
from oscar.core import run
from oscar.core.errors import BackupInvalid, OscarError, TargetRefused, UsageError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import NullProgress, Progress
from oscar.disks import probe
from oscar.disks.devices import Disk, human_size
from oscar.engine import netinfo, udpcast
from oscar.engine.mount import mounted
from oscar.net.deploy import beacon, control, procedures, stream
from oscar.net.deploy.room import NO_LINE
from oscar.net.deploy.sources import (
    Counter,
    HttpMembers,
    Members,
    MulticastMembers,
    StreamSource,
    write_small_files,
)
from oscar.ops import safety
from oscar.ops.personalise import clients as clients_file
from oscar.ops.personalise.apply import Personaliser, candidates
from oscar.ops.restore.planner import RestoreOptions
from oscar.ops.restore.restorer import Restorer

log = logging.getLogger("oscar.deploy")
WORK_ROOT = Path("/run/oscar/deploy")
REPORT_EVERY = 1.0
STORE_MARGIN = 16 << 20


@dataclass
class ReceiveOptions:
    interface: str | None = None
    disk: str | None = None
    server: str | None = None  # control URL or address; else the server's beacon is awaited
    listen: int = 600  # seconds to wait for a server's beacon
    catch_up: bool = True  # after a failed multicast, fetch everything again by HTTP


def control_url(server: str) -> str:
    if server.startswith("http://"):
        return server.rstrip("/")
    return f"http://{server}" + ("" if ":" in server else f":{CONTROL_PORT}")


CONTROL_PORT = 7171


def choose_disk(spec: str | None, store_paths: list[str]) -> Disk:
    if spec is not None:
        return probe.resolve_disk(spec, store_paths=store_paths, with_usage=False)
    disks = [d for d in probe.probe_all(store_paths=store_paths, with_usage=False)
             if not d.is_boot_medium]
    if len(disks) != 1:
        raise UsageError(ngettext("This PC has {count} disk: which one receives the deployment?",
                                  "This PC has {count} disks: which one receives the "
                                  "deployment?", len(disks)).format(count=len(disks)),
                         _("Give --disk (see 'oscar probe')."))
    return disks[0]


class Reporter:
    """Tells the server, every second, what this client is doing."""

    def __init__(self, url: str, mac: str) -> None:
        self.url = url + "/report"
        self.mac = mac
        self.state = "registered"
        self.error = ""
        self.counter: Counter | None = None
        self.personalised = ""  # the name OSCAR_déploie gave this PC, or NO_LINE
        # set while waiting for a multicast session: the server says it started without us
        self.on_catch_up: Callable[[], None] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="deploy-report")

    def _payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mac": self.mac, "state": self.state, "error": self.error,
                                "personalised": self.personalised}
        if self.counter is not None:
            data |= {"percent": round(100 * self.counter.fraction, 1),
                     "done_bytes": self.counter.done, "rate": self.counter.rate}
        return data

    def send(self) -> None:
        try:
            answer = control.call(self.url, self._payload())
        except OscarError as exc:
            log.warning("report: %s", exc.message)
            return
        if answer.get("catch_up") and self.on_catch_up is not None:
            log.warning("the multicast session started without this client")
            self.on_catch_up()
            self.on_catch_up = None

    def set(self, state: str, error: str = "") -> None:
        self.state, self.error = state, error
        self.send()

    def _loop(self) -> None:
        while not self.stopping.wait(REPORT_EVERY):
            self.send()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


class Receiver:
    def __init__(self, opts: ReceiveOptions, progress: Progress | None = None) -> None:
        self.opts = opts
        self.progress = progress or NullProgress()
        self.iface = netinfo.choose(opts.interface)
        assert self.iface.address is not None
        self.target = choose_disk(opts.disk, [])
        safety.refuse_boot_medium(self.target, _("Choose the PC's disk."))
        self.header: dict[str, Any] = {}
        self.mode = ""
        self.url = ""

    def run(self) -> str:
        """Receive and apply the deployment; returns what the server asked for afterwards."""
        server = self.opts.server
        self.url = control_url(server) if server else beacon.listen(
            self.iface.name, self.opts.listen)
        answer = control.call(self.url + "/register", {
            "mac": self.iface.mac, "disk": self.target.identity,
            "disk_size": self.target.size, "hostname": socket.gethostname()})
        self.header, self.mode = answer["header"], str(answer["mode"])
        reporter = Reporter(self.url, self.iface.mac)
        reporter.start()
        try:
            try:
                self._attempt(reporter, self.mode)
            except OscarError as exc:
                if self.mode != "multicast" or not self.opts.catch_up or \
                        isinstance(exc, TargetRefused | UsageError):
                    raise
                log.warning("multicast failed (%s); catching up by HTTP", exc.message)
                reporter.set("failed", exc.message)
                reporter.state, reporter.error = "registered", ""
                control.call(self.url + "/register", {
                    "mac": self.iface.mac, "disk": self.target.identity,
                    "disk_size": self.target.size, "hostname": socket.gethostname()})
                self.mode = "http"
                self._attempt(reporter, "http")
            if "clients" in self.header:
                self._personalise(reporter)
            reporter.set("done")
        except OscarError as exc:
            reporter.set("refused" if isinstance(exc, TargetRefused | UsageError) else "failed",
                         exc.message)
            raise
        except BaseException as exc:
            reporter.set("failed", repr(exc))
            raise
        finally:
            reporter.stop()
        return str(self.header.get("then", "none"))

    def _attempt(self, reporter: Reporter, mode: str) -> None:
        header = self.header
        name = header["backup"]
        proc = procedures.get(header["procedure"])
        sizes = {f["name"]: int(f["size"]) for f in header["files"]}
        counter = Counter(sum(sizes.values()))
        reporter.counter = counter
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=WORK_ROOT, prefix="session-") as work, \
                self._own_store(readonly=not proc.keep_copy) as own, \
                contextlib.ExitStack() as mounts:
            session = Store(work)
            folder = Path(work) / name
            sums = write_small_files(header, folder)
            keep = [str(own.root)] if own is not None else []
            # the disk again, now that its own OSCAR partition is mounted (and protected)
            self.target = probe.resolve_disk(self.target.identity, store_paths=keep,
                                              with_usage=False)
            job = _Job(self, proc, session, folder, sums, sizes, counter, own, keep, mounts)
            job.check()
            udp: run.Background | None = None
            members: Members
            try:
                if mode == "multicast":
                    udp = run.spawn(udpcast.receiver_argv(
                        self.iface.name, int(header["portbase"]), int(header["start_timeout"]),
                        receive_timeout=60), stdout=True)
                    reporter.on_catch_up = udp.proc.terminate  # → the stream ends → HTTP
                    reporter.set("waiting")
                    reader = stream.Reader(udp.stdout)
                    if reader.header() != header:
                        raise stream.broken(_("this session is not the one this client "
                                              "registered for"))
                    members = MulticastMembers(reader)
                else:
                    reporter.set("waiting")
                    members = HttpMembers(str(header["http"]))
                reporter.set("receiving")
                job.execute(members, reporter)
                if udp is not None:
                    end = reader.next_member()
                    if end is not None:
                        raise stream.broken(_("unexpected file {file}").format(file=end.name))
                    reporter.on_catch_up = None
                    udp.finish()
            finally:
                reporter.on_catch_up = None
                if udp is not None:
                    udp.stop()

    def _personalise(self, reporter: Reporter) -> None:
        """OSCAR_déploie: this PC's line of the clients file, by its MAC; without one the PC
        is left as deployed and the server's report says so."""
        sent = self.header["clients"]
        room, problems = clients_file.parse(str(sent["text"]), str(sent["name"]))
        if problems:  # the server checked it: only a changed file in transit gets here
            raise UsageError(ngettext("The clients file {path} has {n} problem:",
                                      "The clients file {path} has {n} problems:",
                                      len(problems)).format(path=sent["name"], n=len(problems)),
                             str(problems[0]))
        client = room.for_mac(self.iface.mac)
        if client is None:
            log.warning("no line for %s in %s: left as deployed", self.iface.mac, sent["name"])
            reporter.personalised = NO_LINE
            return
        # by path: a table just written may have changed the identity of a disk with no serial
        target = probe.resolve_disk(self.target.path, with_usage=True)
        if not candidates(target):  # a procedure that restores no system (petite, table)
            log.info("nothing to personalise on %s", target.path)
            return
        reporter.set("personalising")
        result = Personaliser(target, client, self.progress).run()
        for number, changes in sorted(result.changes.items()):
            for change in changes:
                log.info("personalised partition %d: %s", number, change)
        reporter.personalised = client.hostname

    @contextlib.contextmanager
    def _own_store(self, *, readonly: bool) -> Iterator[Store | None]:
        """This PC's OSCAR partition, mounted: protected during the deployment, and where the
        procedures that keep a copy put it. Read-only when nothing is kept there: the
        partition then stays byte-identical (a read-write mount updates the superblock)."""
        part = next((p for p in self.target.partitions if oscarpart.is_oscar_partition(p)),
                    None)
        if part is None:
            yield None
            return
        if part.mountpoints:
            yield Store(part.mountpoints[0])
            return
        with mounted(part.path, part.fstype, readonly=readonly) as point:
            yield Store(point)


class _Job:
    """One procedure on this client: checks first, then the writes."""

    def __init__(self, receiver: Receiver, proc: procedures.Procedure, session: Store,
                 folder: Path, sums: dict[str, str], sizes: dict[str, int], counter: Counter,
                 own: Store | None, keep: list[str], mounts: contextlib.ExitStack) -> None:
        self.r = receiver
        self.proc = proc
        self.session = session
        self.folder = folder
        self.sums = sums
        self.sizes = sizes
        self.counter = counter
        self.own = own
        self.keep = keep
        self.mounts = mounts
        self.name = folder.name
        self.man = manifest.load(folder)

    def _restorer(self, source: StreamSource | None, *, parts: list[int] | None,
                  with_table: bool, format_only: bool = False,
                  store: Store | None = None) -> Restorer:
        return Restorer(self.r.target, store or self.session, RestoreOptions(
            self.name, parts=parts, with_table=with_table, format_only=format_only,
            layout=str(self.r.header.get("layout", "proportional")),
            keep_paths=[] if store is not None else self.keep, deployment=True),
            self.r.progress, source=source)

    def check(self) -> None:
        """Every refusal before the first byte is written (Restorer's checks, and room for
        the copy); raises TargetRefused."""
        proc = self.proc
        if proc.keep_copy and not proc.with_table:
            if self.own is None:
                raise TargetRefused(_("{disk} has no OSCAR partition to keep the backup "
                                      "on.").format(disk=self.r.target.path),
                                    _("Use the procedure complète, which creates it."))
            self._check_room(self.own)
        if proc.keep_copy and not proc.restore and not proc.with_table:
            return
        parts: list[int] | None = None if (proc.restore or proc.format_only) else []
        if proc.keep_copy and proc.with_table:
            parts = []
        self._restorer(None, parts=parts, with_table=proc.with_table,
                       format_only=proc.format_only)

    def _check_room(self, own: Store) -> None:
        need = self.man.stored_bytes + STORE_MARGIN
        free = shutil.disk_usage(own.root).free
        existing = own.root / self.name
        if existing.is_dir():
            log.info("an older '%s' on this PC is replaced once the new one is complete",
                     self.name)
        if need > free:
            raise TargetRefused(
                _("The OSCAR partition of {disk} has {free} free; the backup needs "
                  "{need}.").format(disk=self.r.target.path, free=human_size(free),
                                    need=human_size(need)),
                _("Delete an old backup on that PC, or use a procedure that keeps no copy."))

    def _source(self, members: Members) -> StreamSource:
        return StreamSource(self.folder, self.sums, self.sizes, members, self.counter)

    def execute(self, members: Members, reporter: Reporter) -> None:
        proc = self.proc
        source = self._source(members)
        if not proc.keep_copy:
            reporter.set("writing")
            parts: list[int] | None = None if (proc.restore or proc.format_only) else []
            self._restorer(source, parts=parts, with_table=proc.with_table,
                           format_only=proc.format_only).run()
            return
        own = self.own
        if proc.with_table:
            reporter.set("writing")
            self._restorer(source, parts=[], with_table=True).run()
            own = self._mount_new_store()
        assert own is not None
        self._check_room(own)
        reporter.set("receiving")
        self._copy(source, own)
        if proc.restore:
            reporter.set("verifying")
            self.r.target = probe.resolve_disk(self.r.target.identity,
                                                store_paths=[str(own.root)], with_usage=False)
            reporter.set("writing")
            self._restorer(None, parts=None, with_table=False, store=own).run()

    def _mount_new_store(self) -> Store:
        disk = probe.resolve_disk(self.r.target.identity, with_usage=False)
        part = next((p for p in disk.partitions if oscarpart.is_oscar_partition(p)), None)
        if part is None:
            raise TargetRefused(_("The partition table written has no OSCAR partition."),
                                _("Save the server with its OSCAR partition."))
        if self.own is not None:
            return self.own
        return Store(self.mounts.enter_context(mounted(part.path, part.fstype)))

    def _copy(self, source: StreamSource, own: Store) -> None:
        """The backup onto this PC's OSCAR partition, every file checked against the server's
        checksums after it was read back from the disk."""
        with own.writing(self.name) as partial:
            for name in procedures.image_files(self.man):
                sink = partial.open_sink(name)
                try:
                    for block in source.chunks([name]):
                        sink(block)
                except BaseException:
                    sink.abandon()
                    raise
                sink.close()
            for name in procedures.small_files(self.man)[2:]:  # not manifest nor B2SUMS
                shutil.copyfile(self.folder / name, partial.folder / name)
            partial.publish(self.man)
        copied = checksums.read(own.root / self.name)
        wrong = [n for n in self.man.all_files if copied.get(n) != self.sums.get(n)]
        if wrong:
            raise BackupInvalid(_("The copy on this PC differs from the server's: "
                                  "{files}").format(files=", ".join(wrong)),
                                _("Deploy this client again."))


def on_live_system() -> bool:
    try:
        return "boot=live" in Path("/proc/cmdline").read_text()
    except OSError:
        return False


def restart(then: str) -> None:
    """Reboot or power off as the server asked; only on the OSCAR live system (never the
    technician's own PC where the receiver was started by hand or by a test)."""
    if then not in ("reboot", "poweroff"):
        return
    if not on_live_system():
        log.info("not on the OSCAR live system: no %s", then)
        print(_("Not on the OSCAR live system: no {action}.").format(action=then))
        return
    oscarpart.before_restart()
    run.run(["systemctl", then])
