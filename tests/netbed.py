"""A room on one machine: network namespaces joined by a bridge (in a namespace of its own),
one for the server and one per client, addresses only inside them. Removed on exit, and every
process started in them is killed."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv/bin/python")


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@dataclass
class Netbed:
    tag: str
    hosts: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"ob{self.tag}"

    def host(self, index: int) -> str:
        return f"o{index}{self.tag}"  # 0: the server

    def address(self, index: int) -> str:
        return f"10.201.{int(self.tag) % 250}.{index + 1}"

    def add_host(self, index: int) -> str:
        ns = self.host(index)
        ip("netns", "add", ns)
        self.hosts.append(ns)
        outside, inside = f"v{index}o{self.tag}", f"v{index}i{self.tag}"
        ip("link", "add", inside, "type", "veth", "peer", "name", outside)
        ip("link", "set", inside, "netns", ns)
        ip("link", "set", outside, "netns", self.bridge)
        ip("-n", self.bridge, "link", "set", outside, "master", "br0")
        ip("-n", self.bridge, "link", "set", outside, "up")
        ip("-n", ns, "link", "set", inside, "name", "eth0")
        ip("-n", ns, "addr", "add", f"{self.address(index)}/24", "brd", "+", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        # udpcast's control traffic goes to 224.0.0.1: it needs a route
        ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        return ns

    def tap(self, index: int) -> str:
        """Turn client ``index`` into a port for a VM: its namespace bridges a tap device
        (qemu's network card) to its cable, and keeps no address of its own."""
        ns = self.host(index)
        ip("-n", ns, "addr", "flush", "dev", "eth0")
        ip("-n", ns, "tuntap", "add", "tap0", "mode", "tap")
        ip("-n", ns, "link", "add", "brc", "type", "bridge", "mcast_snooping", "0")
        for link in ("eth0", "tap0"):
            ip("-n", ns, "link", "set", link, "master", "brc")
            ip("-n", ns, "link", "set", link, "up")
        ip("-n", ns, "link", "set", "brc", "up")
        return "tap0"

    def cut(self, index: int) -> None:
        """Pull the client's cable."""
        ip("-n", self.bridge, "link", "set", f"v{index}o{self.tag}", "down")

    def reconnect(self, index: int) -> None:
        ip("-n", self.bridge, "link", "set", f"v{index}o{self.tag}", "up")

    def oscar(self, index: int, *args: str, env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[str]:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OSCAR_LANG": "en", **(env or {})}
        out = log.open("w") if log is not None else subprocess.PIPE
        proc = subprocess.Popen(["ip", "netns", "exec", self.host(index), PYTHON, "-m",
                                 "oscar", *args], stdout=out, stderr=subprocess.STDOUT,
                                text=True, env=full_env, cwd=ROOT)
        self.procs.append(proc)
        return proc


@contextlib.contextmanager
def netbed(clients: int) -> Iterator[Netbed]:
    tag = str(os.getpid() % 900 + 100)
    bed = Netbed(tag)
    try:
        ip("netns", "add", bed.bridge)
        ip("-n", bed.bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", bed.bridge, "link", "set", "br0", "up")
        for index in range(clients + 1):
            bed.add_host(index)
        yield bed
    finally:
        for proc in bed.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for ns in [*bed.hosts, bed.bridge]:
            # anything still running in the namespace (udp-receiver, lighttpd) goes with it
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
            ip("netns", "del", ns, check=False)
