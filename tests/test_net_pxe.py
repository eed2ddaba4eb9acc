"""OSCAR's network boot on a real network of namespaces: a dnsmasq playing the school's DHCP
server, OSCAR's dnsmasq (proxy or full DHCP, TFTP) and lighttpd, a real DHCP client (udhcpc),
real TFTP and HTTP transfers (curl). The PXE firmware itself is the vm tier's qemu."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oscar.net.pxe import dhcpprobe
from tests.netbed import PYTHON, ROOT, Netbed, netbed

pytestmark = pytest.mark.net
SERVER, SCHOOL, CLIENT = 0, 1, 2


@dataclass
class Net:
    bed: Netbed
    tmp: Path
    live: Path
    store: Path

    @property
    def state(self) -> Path:
        # dnsmasq serves TFTP as nobody: not under pytest's private tmp folder
        return Path(f"/run/oscar-test/pxe-{self.bed.tag}")

    def prefix(self) -> str:
        return self.bed.address(0).rsplit(".", 1)[0]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "OSCAR_LANG": "en",
                "OSCAR_PXE_DIR": str(self.state), "OSCAR_CONFIG": str(self.tmp / "oscar.yaml")}

    def oscar(self, host: int, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.bed.host(host), PYTHON, "-m", "oscar",
                               *args], capture_output=True, text=True, env=self.env(),
                              timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)

    def start(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.oscar(SERVER, "pxe", "start", "--interface", "eth0", "--live-dir",
                          str(self.live), "--store", str(self.store), *args)

    def run(self, host: int, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.bed.host(host), *argv],
                              capture_output=True, text=True, timeout=60)

    def pids(self, host: int) -> list[str]:
        names = []
        for pid in self.run(host, "ip", "netns", "pids", self.bed.host(host)).stdout.split():
            try:
                names.append(Path(f"/proc/{pid}/comm").read_text().strip())
            except OSError:
                continue
        return names

    def school_dhcp(self) -> subprocess.Popen[str]:
        net = self.prefix()
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.bed.host(SCHOOL), "dnsmasq", "--keep-in-foreground",
             "--port=0", "--interface=eth0", "--bind-interfaces", "--log-facility=-",
             f"--dhcp-range={net}.100,{net}.150,12h",
             f"--dhcp-leasefile={self.tmp / 'school.leases'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        self.bed.procs.append(proc)
        return proc

    def lease(self) -> dict[str, str]:
        """A real DHCP client on the client PC: udhcpc, its script writing what it got."""
        script = self.tmp / "udhcpc.sh"
        script.write_text('#!/bin/sh\n[ "$1" = bound ] && env > "$(dirname "$0")/lease.env"\n'
                          'exit 0\n')
        script.chmod(0o755)
        (self.tmp / "lease.env").unlink(missing_ok=True)
        self.run(CLIENT, "ip", "addr", "flush", "dev", "eth0")
        got = self.run(CLIENT, "udhcpc", "-i", "eth0", "-n", "-q", "-t", "6", "-T", "2",
                       "-s", str(script))
        assert got.returncode == 0, got.stderr
        values = dict(line.split("=", 1) for line in
                      (self.tmp / "lease.env").read_text().splitlines() if "=" in line)
        self.run(CLIENT, "ip", "addr", "add", f"{values['ip']}/24", "dev", "eth0")
        return values

    def fetch(self, url: str) -> bytes:
        got = subprocess.run(["ip", "netns", "exec", self.bed.host(CLIENT), "curl", "-sf",
                              "--max-time", "20", url], capture_output=True, timeout=60)
        assert got.returncode == 0, (url, got.returncode, got.stderr)
        return got.stdout

    def client_probe(self, arch: int | None) -> list[dhcpprobe.Offer]:
        mac = json.loads(self.run(CLIENT, "ip", "-json", "link", "show", "eth0").stdout)[0]["address"]
        code = ("import json; from oscar.net.pxe.dhcpprobe import probe; "
                f"print(json.dumps([o.__dict__ for o in probe('eth0', '{mac}', 5, pxe_arch={arch})]))")
        got = self.run(CLIENT, PYTHON, "-c", code)
        assert got.returncode == 0, got.stderr
        return [dhcpprobe.Offer(**item) for item in json.loads(got.stdout)]

    def nothing_left(self) -> None:
        assert not self.state.exists()
        assert not {"dnsmasq", "lighttpd"} & set(self.pids(SERVER)), self.pids(SERVER)
        assert self.oscar(SERVER, "pxe", "status").returncode == 1


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    live = tmp_path / "live"
    live.mkdir()
    for name, size in (("vmlinuz", 300_000), ("initrd.img", 700_000),
                       ("filesystem.squashfs", 2_000_000)):
        (live / name).write_bytes(os.urandom(size))
    store = tmp_path / "store"
    (store / "salle1").mkdir(parents=True)
    (store / "salle1/manifest.yaml").write_text("name: salle1\n")
    (store / ".salle2.partial").mkdir()
    (store / ".salle2.partial/secret").write_text("half-written\n")
    with netbed(2) as bed:
        n = Net(bed, tmp_path, live, store)
        try:
            yield n
        finally:
            n.oscar(SERVER, "pxe", "stop")


def test_proxy_dhcp_beside_the_schools_server(net: Net) -> None:
    net.school_dhcp()
    started = net.start()
    assert started.returncode == 0, started.stderr
    server = net.bed.address(SERVER)
    school = net.bed.address(SCHOOL)
    assert f"DHCP server {school} answered" in started.stdout
    assert "proxy DHCP (the school's server leases the addresses)" in started.stdout
    assert "NFS: not offered (this kernel has no NFS server)" in started.stdout
    # the client's address comes from the school's server...
    lease = net.lease()
    assert lease["serverid"] == school and lease["ip"].startswith(net.prefix() + ".1")
    # ...and a PXE firmware's discover also gets OSCAR's answer: no address, boot data only
    offers = net.client_probe(arch=0)
    ours = [o for o in offers if o.server == server]
    assert len(ours) == 1 and not ours[0].leases and ours[0].vendor_class == "PXEClient", offers
    assert any(o.server == school and o.leases for o in offers), offers
    # a firmware that is not PXE gets no boot data from OSCAR (only from the school)
    assert all(o.server == school for o in net.client_probe(arch=None))
    # UEFI PCs: said before the room boots, with the mode that works for them
    assert "UEFI PCs cannot start in proxy mode" in started.stdout
    assert "--dhcp pxe --range" in started.stdout
    # the files: GRUB's BIOS network image, Debian's signed chain for UEFI (shim, then the
    # signed network GRUB from the TFTP root) and the menu over TFTP, the live system over HTTP
    state = net.state / "tftp/boot/grub"
    assert net.fetch(f"tftp://{server}/boot/grub/core.0") == (state / "core.0").read_bytes()
    assert net.fetch(f"tftp://{server}/shimx64.efi") == Path(
        "/usr/lib/shim/shimx64.efi.signed").read_bytes()
    assert net.fetch(f"tftp://{server}/grubx64.efi") == Path(
        "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed").read_bytes()
    menu = net.fetch(f"tftp://{server}/boot/grub/grub.cfg").decode()
    assert net.fetch(f"tftp://{server}/grub/grub.cfg").decode() == menu
    assert f"fetch=http://{server}:7173/live/filesystem.squashfs" in menu
    assert f"oscar=deploy oscar.server={server}" in menu and "set default=disk" in menu
    assert len(net.fetch(f"tftp://{server}/boot/grub/i386-pc/normal.mod")) > 10_000
    assert net.fetch(f"tftp://{server}/live/vmlinuz") == (net.live / "vmlinuz").read_bytes()
    squashfs = net.fetch(f"http://{server}:7173/live/filesystem.squashfs")
    assert squashfs == (net.live / "filesystem.squashfs").read_bytes()
    assert net.fetch(f"http://{server}:7173/backups/salle1/manifest.yaml") == b"name: salle1\n"
    hidden = net.run(CLIENT, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                     f"http://{server}:7173/backups/.salle2.partial/secret")
    assert hidden.stdout == "403"
    assert net.oscar(SERVER, "pxe", "status").returncode == 0
    stopped = net.oscar(SERVER, "pxe", "stop")
    assert stopped.returncode == 0 and "gone" in stopped.stdout
    net.nothing_left()
    # and the PCs hear no more from OSCAR
    assert all(o.server == school for o in net.client_probe(arch=0))


def test_pxe_mode_leases_only_to_network_booting_firmware(net: Net) -> None:
    """Beside the school's server, for UEFI PCs: OSCAR leases its own range, only to PXE
    firmware, with the boot file in the offer (the firmware prefers it to the school's)."""
    net.school_dhcp()
    refused = net.start("--dhcp", "pxe")
    assert refused.returncode == 2 and "--dhcp pxe needs --range" in refused.stderr
    net.nothing_left()
    prefix = net.prefix()
    started = net.start("--dhcp", "pxe", "--range", f"{prefix}.240,{prefix}.250")
    assert started.returncode == 0, started.stderr
    assert f"network-booting PCs only, leasing {prefix}.240–{prefix}.250" in started.stdout
    assert "cannot start" not in started.stdout
    server, school = net.bed.address(SERVER), net.bed.address(SCHOOL)
    for arch, boot_file in ((7, "shimx64.efi"), (0, "boot/grub/core.0")):
        ours = [o for o in net.client_probe(arch=arch) if o.server == server]
        assert len(ours) == 1 and ours[0].leases, ours
        assert 240 <= int(ours[0].address.rsplit(".", 1)[1]) <= 250
        assert (ours[0].boot_file, ours[0].next_server) == (boot_file, server)
    # every other PC (and the live system once started) is the school server's alone
    assert all(o.server == school for o in net.client_probe(arch=None))
    lease = net.lease()
    assert lease["serverid"] == school
    assert net.oscar(SERVER, "pxe", "stop").returncode == 0
    net.nothing_left()


def test_no_dhcp_server_no_lease_without_consent_then_with_it(net: Net) -> None:
    refused = net.start()
    assert refused.returncode == 2
    assert "No DHCP server answered on this network" in refused.stderr
    assert "--dhcp full" in refused.stderr
    net.nothing_left()
    assert net.client_probe(arch=None) == []
    prefix = net.prefix()
    started = net.start("--dhcp", "full", "--range", f"{prefix}.50,{prefix}.60")
    assert started.returncode == 0, started.stderr
    assert f"DHCP, leasing {prefix}.50–{prefix}.60" in started.stdout
    lease = net.lease()
    assert lease["serverid"] == net.bed.address(SERVER)
    assert 50 <= int(lease["ip"].rsplit(".", 1)[1]) <= 60
    assert "router" not in lease and "dns" not in lease  # OSCAR is neither
    assert "boot_file" not in lease  # not a PXE firmware: no boot file
    # a PXE firmware gets its boot file in the offer: UEFI x86-64 (7 and 9) and BIOS (0)
    for arch, boot_file in ((7, "shimx64.efi"), (9, "shimx64.efi"),
                            (0, "boot/grub/core.0")):
        (offer,) = net.client_probe(arch=arch)
        assert offer.server == net.bed.address(SERVER) and offer.leases, offer
        assert (offer.boot_file, offer.next_server) == (boot_file, net.bed.address(SERVER))
    status = net.oscar(SERVER, "pxe", "status")
    assert f"Leased: {lease['ip']}" in status.stdout
    assert net.oscar(SERVER, "pxe", "stop").returncode == 0
    net.nothing_left()


def test_full_dhcp_is_refused_when_the_school_already_leases(net: Net) -> None:
    net.school_dhcp()
    refused = net.start("--dhcp", "full")
    assert refused.returncode == 2
    assert "already leases addresses on this network" in refused.stderr
    assert "--dhcp proxy" in refused.stderr
    net.nothing_left()


def test_twice_refused_and_stop_cleans_even_after_a_crash(net: Net) -> None:
    started = net.start("--dhcp", "none", "--address", "10.77.0.1/24")
    assert started.returncode == 0, started.stderr
    assert "no DHCP (TFTP and HTTP only)" in started.stdout
    addresses = net.run(SERVER, "ip", "-4", "addr", "show", "dev", "eth0").stdout
    assert "10.77.0.1/24" in addresses
    again = net.start("--dhcp", "none")
    assert again.returncode == 2
    assert "already runs on eth0" in again.stderr and "oscar pxe stop" in again.stderr
    # the supervisor killed outright: its servers go with it, stop removes the rest
    state = json.loads((net.state / "state.json").read_text())
    os.kill(state["supervisor"], 9)
    for pid in state["children"].values():
        for _try in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            subprocess.run(["sleep", "0.1"])
    stopped = net.oscar(SERVER, "pxe", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "10.77.0.1" not in net.run(SERVER, "ip", "-4", "addr", "show", "dev", "eth0").stdout
    net.nothing_left()
    assert "not running" in net.oscar(SERVER, "pxe", "stop").stdout


def test_refusals_say_why_and_start_nothing(net: Net) -> None:
    net.run(CLIENT, "ip", "addr", "flush", "dev", "eth0")
    no_address = net.oscar(CLIENT, "pxe", "start", "--interface", "eth0", "--live-dir",
                           str(net.live), "--dhcp", "none")
    assert no_address.returncode == 2 and "has no address" in no_address.stderr
    assert "--address" in no_address.stderr
    cases = [
        (("--interface", "eth9"), "There is no network interface eth9"),
        (("--interface", "eth0", "--live-dir", str(net.tmp)), "live system"),
        (("--interface", "eth0", "--dhcp", "full", "--range", "10.0.0.1,10.0.0.9"),
         "is not inside the network"),
        (("--interface", "eth0", "--dhcp", "proxy", "--range", "1,2"), "only for --dhcp full"),
        (("--interface", "eth0", "--address", "10.1.2.3"), "not an address with its prefix"),
    ]
    for args, message in cases:
        if "--live-dir" not in args:
            args = (*args, "--live-dir", str(net.live))
        got = net.oscar(SERVER, "pxe", "start", *args)
        assert got.returncode == 2, (args, got.stdout, got.stderr)
        assert message in got.stderr and "hint:" in got.stderr, (args, got.stderr)
        net.nothing_left()


def test_a_port_already_taken_is_refused_before_anything_starts(net: Net) -> None:
    """Another TFTP server on this PC: dnsmasq would share port 69 with it (it reuses
    addresses) and the PCs would get answers from either. Refused, naming the program."""
    other = subprocess.Popen(
        ["ip", "netns", "exec", net.bed.host(SERVER), "dnsmasq", "--keep-in-foreground",
         "--port=0", "--interface=eth0", "--bind-interfaces", "--enable-tftp",
         "--tftp-root=/usr/lib/grub", f"--dhcp-leasefile={net.tmp / 'other.leases'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    net.bed.procs.append(other)
    subprocess.run(["sleep", "0.5"])
    got = net.start("--dhcp", "none")
    assert got.returncode == 2
    assert "Port 69/udp is already used on this PC by dnsmasq (pid" in got.stderr, got.stderr
    assert other.poll() is None  # the other server is left alone, and is the only one
    assert net.pids(SERVER).count("dnsmasq") == 1 and "lighttpd" not in net.pids(SERVER)
    assert not net.state.exists()


def test_the_tui_asks_consent_starts_shows_and_stops(net: Net) -> None:
    got = net.run(SERVER, "env", *[f"{k}={v}" for k, v in net.env().items()
                                   if k.startswith(("OSCAR", "PYTHONPATH"))],
                  PYTHON, "-m", "tests.pxe_tui_driver", str(net.live))
    screens = dict(part.split("\n", 1) for part in got.stdout.split("SCREEN ")[1:])
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-3000:]
    assert "Network" in screens["form"] and "eth0" in screens["form"]
    assert "No DHCP server answered on eth0" in screens["consent"], screens["consent"]
    assert "Network boot running on eth0" in screens["status"], screens["status"]
    assert "DHCP, leasing" in screens["status"]
    assert "Network boot stopped" in screens["stopped"], screens["stopped"]
    net.nothing_left()
