"""OSCAR's network boot as one service: `start` decides (interface, DHCP mode, consent) and
launches a supervisor; the supervisor builds the boot files, runs dnsmasq and lighttpd, and on
`stop` (or when one of them dies) stops both, removes the address it added and its folder.

Everything lives in one folder (OSCAR_PXE_DIR, /run/oscar/pxe); its state.json names the supervisor and its
children, so a second start is refused and a stop after a crash still cleans up.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from oscar.core import config, run, tools
from oscar.core.errors import OscarError, UsageError
from oscar.core.i18n import _
from oscar.core.settings import LANG, PXE_DIR
from oscar.engine import lighttpd, netinfo
from oscar.net.pxe import dhcpprobe, netboot, render, summary
from oscar.net.pxe.settings import (
    HTTP_PORT,
    LEASING_MODES,
    PxeSettings,
    decide_mode,
    lease_range,
    leasing_servers,
    parse_address,
)
from oscar.ops import bootinstall

log = logging.getLogger("oscar.pxe")

READY = "ready"
START_TIMEOUT = 60  # seconds: GRUB images, checks, both servers up
STOP_TIMEOUT = 20
TOOLS = ["dnsmasq", "lighttpd", "grub-mkimage", "grub-script-check", "ip", "ss"]
DHCP_PORTS = (67, 4011)  # DHCP, and the PXE boot server of proxy DHCP
TFTP_PORT = 69

# asked before OSCAR leases addresses itself: the question, answered True to consent
ConsentCallback = Callable[[str], bool]


@dataclass
class StartOptions:
    interface: str
    dhcp: str = "auto"
    range: str | None = None  # FROM,TO of full mode
    address: str | None = None  # ADDRESS/PREFIX to put on an interface that has none
    store: str | None = None
    live_dir: str | None = None
    timeout: int = 10
    probe_seconds: float = 4.0


@dataclass
class Prepared:
    settings: PxeSettings
    offers: list[dhcpprobe.Offer] = field(default_factory=list)


@dataclass
class Status:
    running: bool
    state: dict[str, Any]

    @property
    def settings(self) -> PxeSettings | None:
        data = self.state.get("settings")
        return PxeSettings(**data) if data else None


# -- state ------------------------------------------------------------------------------------
def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def read_state(folder: Path | None = None) -> dict[str, Any] | None:
    folder = folder or PXE_DIR.path()
    try:
        data = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, folder / "state.json")


def status(folder: Path | None = None) -> Status:
    folder = folder or PXE_DIR.path()
    state = read_state(folder)
    if state is None:
        return Status(False, {})
    return Status(_alive(state.get("supervisor")), state)


def leases(folder: Path | None = None) -> list[tuple[str, str, str]]:
    """(MAC, address, name) of the PCs OSCAR leased an address to (full mode)."""
    folder = folder or PXE_DIR.path()
    found = []
    with contextlib.suppress(OSError):
        for line in (folder / "dnsmasq.leases").read_text().splitlines():
            words = line.split()
            if len(words) >= 4:
                found.append((words[1], words[2], words[3]))
    return found


def nfs_server_available() -> bool:
    """Whether this kernel could export over NFS (the dev machine and CI cannot)."""
    try:
        return "nfsd" in Path("/proc/filesystems").read_text()
    except OSError:
        return False


def summary_lines(folder: Path | None = None) -> list[str]:
    folder = folder or PXE_DIR.path()
    current = status(folder)
    settings = current.settings
    if not current.running or settings is None:
        return summary.lines(None)
    return summary.lines(summary.Running(settings, current.state.get("started", "?"),
                                         leases(folder), nfs_server_available()))


# -- start ------------------------------------------------------------------------------------
def refuse_if_running(folder: Path | None = None) -> None:
    folder = folder or PXE_DIR.path()
    current = status(folder)
    if current.running:
        settings = current.settings
        raise UsageError(
            _("OSCAR's network boot already runs on {interface} (since {since}).").format(
                interface=settings.interface if settings else "?",
                since=current.state.get("started", "?")),
            _("Stop it first: oscar pxe stop"))
    if current.state:
        log.warning("a network boot supervisor ended without cleaning up: cleaning up now")
        cleanup(folder, current.state)


def prepare(opts: StartOptions, consent: ConsentCallback, folder: Path | None = None) -> Prepared:
    """Everything decided before anything starts: refuses a second start, an interface
    without an address, a missing live system, and a DHCP server without consent."""
    folder = folder or PXE_DIR.path()
    tools.require_all(TOOLS)
    refuse_if_running(folder)
    found = {i.name: i for i in netinfo.interfaces()}
    iface = found.get(opts.interface)
    if iface is None:
        raise UsageError(_("There is no network interface {name}.").format(name=opts.interface),
                         _("Interfaces: {list}.").format(
                             list=", ".join(n for n in found if n != "lo") or "-"))
    if not iface.up:
        raise UsageError(_("The network interface {name} is down.").format(name=iface.name),
                         _("Connect the cable, then: ip link set {name} up").format(
                             name=iface.name))
    added = None
    if opts.address is not None:
        wanted = parse_address(opts.address)
        server, prefix = str(wanted.ip), wanted.network.prefixlen
        if iface.address != server:
            added = str(wanted)
    elif iface.address and iface.prefix:
        server, prefix = iface.address, iface.prefix
    else:
        raise UsageError(_("The network interface {name} has no address.").format(name=iface.name),
                         _("Give OSCAR one with --address (for example 192.168.50.1/24), or get "
                           "one from the school's DHCP server."))
    live = bootinstall.find_live_source(Path(opts.live_dir) if opts.live_dir else None)
    if live is None:
        raise UsageError(_("The OSCAR live system (vmlinuz, initrd.img, filesystem.squashfs) "
                           "was not found."), _("Give its folder with --live-dir, or build it: "
                                                "make image"),
                         menu_hint=bootinstall.live_menu_hint())
    if opts.store is not None and not Path(opts.store).is_dir():
        raise UsageError(_("The backup folder {path} does not exist.").format(path=opts.store),
                         _("Give the folder that holds the backups."))
    check_ports(opts.dhcp != "none", HTTP_PORT)
    offers: list[dhcpprobe.Offer] = []
    if opts.dhcp != "none":
        offers = dhcpprobe.probe(iface.name, iface.mac, opts.probe_seconds)
    consent_given = False
    if opts.dhcp == "auto" and not leasing_servers(offers):
        consent_given = consent(_("No DHCP server answered on {name}. Let OSCAR lease addresses "
                                  "to the PCs of this network itself?").format(name=iface.name))
    mode = decide_mode(opts.dhcp, offers, consent=consent_given)
    first, last = leased_range(mode, server, prefix, opts.range)
    settings = PxeSettings(
        interface=iface.name, server=server, prefix=prefix, mode=mode, live_dir=str(live.resolve()),
        store=str(Path(opts.store).resolve()) if opts.store else None, range_from=first,
        range_to=last, added_address=added, timeout=opts.timeout,
        password_hash=config.load().password_hash,
        lang="en" if LANG.value().startswith("en") else "fr")
    return Prepared(settings, offers)


def leased_range(mode: str, server: str, prefix: int,
                 text: str | None) -> tuple[str | None, str | None]:
    """The addresses OSCAR leases in full and pxe modes (pxe: only the technician knows which
    addresses the school's server never leases, so the range must be given)."""
    if mode == "pxe" and text is None:
        raise UsageError(_("--dhcp pxe needs --range: the addresses OSCAR may lease to the PCs "
                           "that boot from the network."),
                         _("Give addresses the school's DHCP server never leases, e.g. "
                           "--range 192.168.1.240,192.168.1.250."))
    if mode in LEASING_MODES:
        return lease_range(server, prefix, text)
    if text is not None:
        raise UsageError(_("--range is only for --dhcp full or pxe."),
                         _("In proxy mode the school's DHCP server chooses the addresses."))
    return None, None


def check_ports(dhcp: bool, http_port: int) -> None:
    """Another DHCP, TFTP or HTTP server on this PC would share the ports with OSCAR's (dnsmasq
    reuses addresses): the PCs would get answers from either. Refused before anything starts."""
    wanted = {("udp", TFTP_PORT), ("tcp", http_port)}
    if dhcp:
        wanted |= {("udp", port) for port in DHCP_PORTS}
    for listener in netinfo.listeners():
        if (listener.protocol, listener.port) in wanted:
            raise UsageError(
                _("Port {port}/{protocol} is already used on this PC by {program}.").format(
                    port=listener.port, protocol=listener.protocol, program=listener.program),
                _("Stop that server first (another DHCP, TFTP or web server); OSCAR serves "
                  "the network boot itself."))


def launch(settings: PxeSettings, folder: Path | None = None) -> dict[str, Any]:
    """Start the supervisor and wait until it says the servers answer (or why not)."""
    folder = folder or PXE_DIR.path()
    refuse_if_running(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    (folder / "settings.json").write_text(settings.to_json())
    pid, pipe = run.daemon([sys.executable, "-m", "oscar", "pxe", "serve",
                            "--state-dir", str(folder)])
    line = _read_line(pipe, START_TIMEOUT)
    pipe.close()
    if line.startswith(READY):
        state = read_state(folder) or {}
        log.info("network boot running: supervisor %d", pid)
        return state
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
    try:
        error = json.loads(line)
    except ValueError:
        error = {"message": _("The network boot supervisor stopped at once."),
                 "hint": _("See OSCAR's log.")}
    raise OscarError(error.get("message", "?"), error.get("hint"))


def _read_line(pipe: IO[bytes], timeout: float) -> str:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(pipe.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode().strip() if result else ""


# -- stop -------------------------------------------------------------------------------------
def stop(folder: Path | None = None) -> bool:
    """Stop the network boot; False when it was not running. Whatever a crashed supervisor
    left (its servers, the address, the folder) is removed too."""
    folder = folder or PXE_DIR.path()
    state = read_state(folder)
    if state is None:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        return False
    pid = int(state.get("supervisor") or 0)
    if _alive(pid) and "pxe serve" in _cmdline(pid):
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        if _alive(pid):
            log.warning("supervisor %d did not stop: killed", pid)
            os.kill(pid, signal.SIGKILL)
    if folder.exists():
        cleanup(folder, state)
    leftovers = [p for p in state.get("children", {}).values() if _alive(p)]
    if leftovers:
        raise OscarError(_("Processes of the network boot are still running: {pids}.").format(
            pids=", ".join(map(str, leftovers))), _("Stop them with: kill {pids}").format(
            pids=" ".join(map(str, leftovers))))
    return True


def cleanup(folder: Path, state: dict[str, Any]) -> None:
    """What a supervisor that could not clean up left: its servers, its address, its folder."""
    for name, pid in state.get("children", {}).items():
        if _alive(pid) and name in _cmdline(pid):
            log.info("stopping leftover %s (%d)", name, pid)
            os.kill(pid, signal.SIGTERM)
    settings = state.get("settings") or {}
    if settings.get("added_address"):
        _remove_address(settings["interface"], settings["added_address"])
    shutil.rmtree(folder, ignore_errors=True)


def _remove_address(interface: str, address: str) -> None:
    result = run.run(["ip", "addr", "del", address, "dev", interface], check=False)
    if result.returncode != 0:
        log.warning("could not remove %s from %s: %s", address, interface, result.stderr.strip())


# -- the supervisor ---------------------------------------------------------------------------
class Supervisor:
    """Runs in its own session (`oscar pxe serve`), started by launch()."""

    def __init__(self, folder: Path, report: IO[str]) -> None:
        self.folder = folder
        self.report = report
        self.settings = PxeSettings.from_json((folder / "settings.json").read_text())
        self.stopping = threading.Event()
        self.children: dict[str, run.Background] = {}
        self.address_added = False
        self.state: dict[str, Any] = {
            "supervisor": os.getpid(), "settings": json.loads(self.settings.to_json()),
            "started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "children": {}}

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("signal %d: stopping the network boot", signum)
        self.stopping.set()

    def _say(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.report.write(line + "\n")
            self.report.flush()
            self.report.close()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        _write_state(self.folder, self.state)
        code = 0
        try:
            self._start()
            self._say(READY)
            self._watch()
        except OscarError as exc:
            log.error("network boot: %s (%s)", exc.message, exc.hint)
            self._say(json.dumps({"message": exc.message, "hint": exc.hint}))
            code = exc.exit_code
        except Exception as exc:  # noqa: BLE001 - whatever happens, the servers are stopped
            log.exception("network boot supervisor failed")
            self._say(json.dumps({"message": _("The network boot failed: {why}").format(
                why=exc), "hint": _("See OSCAR's log.")}))
            code = 1
        finally:
            self._stop_all()
        return code

    def _start(self) -> None:
        s = self.settings
        if s.added_address:
            run.run(["ip", "addr", "add", s.added_address, "dev", s.interface])
            self.address_added = True
        netboot.build_tftp(self.folder / "tftp", s)
        netboot.build_http(self.folder / "http", s)
        conf = self.folder / "dnsmasq.conf"
        conf.write_text(render.dnsmasq_config(
            s, tftp_root=self.folder / "tftp", log=self.folder / "dnsmasq.log",
            pidfile=self.folder / "dnsmasq.pid", leases=self.folder / "dnsmasq.leases"))
        render.check_dnsmasq(conf)
        _reachable_by_anyone(self.folder / "tftp")
        self.children["lighttpd"] = lighttpd.start(self.folder / "http", s.server, s.http_port,
                                                   self.folder)
        self._record()
        self.children["dnsmasq"] = run.spawn(["dnsmasq", "--keep-in-foreground",
                                              f"--conf-file={conf}"])
        self._record()
        # dnsmasq binds its ports (67, 69, 4011) at once: a refusal ends it within a moment
        time.sleep(1)
        self._check_children()
        self.state["ready"] = True
        _write_state(self.folder, self.state)
        log.info("network boot on %s (%s, %s mode)", s.interface, s.server, s.mode)

    def _record(self) -> None:
        self.state["children"] = {name: child.pid for name, child in self.children.items()}
        _write_state(self.folder, self.state)

    def _check_children(self) -> None:
        for name, child in self.children.items():
            if not child.running():
                code = child.finish(check=False)
                tail = (" ".join(child.reader.tail) or self._log_tail(name))[-300:] or \
                    f"exit {code}"
                raise OscarError(_("{program} stopped: {why}").format(program=name, why=tail),
                                 _("Another DHCP or TFTP server may run on this PC; see "
                                   "OSCAR's log."))

    def _log_tail(self, name: str) -> str:
        """dnsmasq writes its reasons into its log file, not on stderr."""
        try:
            lines = (self.folder / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        reasons = [line.split(": ", 1)[-1] for line in lines[-3:] if "FAILED" not in line]
        return " ".join(reasons)

    def _watch(self) -> None:
        while not self.stopping.wait(0.5):
            self._check_children()

    def _stop_all(self) -> None:
        for name, child in reversed(list(self.children.items())):
            log.info("stopping %s", name)
            child.stop()
        if self.address_added and self.settings.added_address:
            _remove_address(self.settings.interface, self.settings.added_address)
        shutil.rmtree(self.folder, ignore_errors=True)
        log.info("network boot stopped; %s removed", self.folder)


def _reachable_by_anyone(folder: Path) -> None:
    """dnsmasq serves TFTP as 'nobody': every folder above the TFTP root must let it pass."""
    for parent in [folder, *folder.parents]:
        if not parent.stat().st_mode & 0o001:
            raise OscarError(_("dnsmasq could not reach {folder}: {parent} is closed to other "
                               "users.").format(folder=folder, parent=parent),
                             _("Give the network boot a folder anyone may traverse "
                               "(OSCAR_PXE_DIR), or: chmod o+x {parent}").format(parent=parent))


def serve(folder: Path) -> int:
    """The supervisor's body: its stdout is the pipe launch() waits on."""
    report = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing else may write into the pipe once launch() stopped reading
    os.close(devnull)
    return Supervisor(folder, report).run()
