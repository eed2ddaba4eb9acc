"""The network interfaces of this PC, read with `ip -json` (iproute2)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from oscar.core import run
from oscar.core.errors import UsageError
from oscar.core.i18n import _


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str
    address: str | None  # first IPv4 address
    broadcast: str | None
    up: bool
    prefix: int | None = None  # of the first IPv4 address


def parse_ip_json(text: str) -> list[Interface]:
    found = []
    for item in json.loads(text or "[]"):
        ipv4: list[dict[str, Any]] = [a for a in item.get("addr_info", [])
                                      if a.get("family") == "inet"]
        first = ipv4[0] if ipv4 else {}
        found.append(Interface(item["ifname"], item.get("address", ""), first.get("local"),
                               first.get("broadcast"), "UP" in item.get("flags", []),
                               first.get("prefixlen")))
    return found


def interfaces() -> list[Interface]:
    return parse_ip_json(run.output(["ip", "-json", "addr", "show"]))


def choose(name: str | None) -> Interface:
    """The interface named, or the only one up with an IPv4 address; refused with no address."""
    found = [i for i in interfaces() if i.name != "lo"]
    if name is not None:
        match = next((i for i in found if i.name == name), None)
        if match is None:
            raise UsageError(_("There is no network interface {name}.").format(name=name),
                             _("Interfaces: {list}.").format(
                                 list=", ".join(i.name for i in found) or "-"))
        if not match.address or not match.up:
            raise UsageError(_("The network interface {name} has no address.").format(name=name),
                             _("Connect the cable and start the network (DHCP), or choose "
                               "another interface."))
        return match
    usable = [i for i in found if i.address and i.up]
    if len(usable) != 1:
        raise UsageError(_("Cannot tell which network interface to use ({count} with an "
                           "address).").format(count=len(usable)),
                         _("Give --interface (interfaces: {list}).").format(
                             list=", ".join(i.name for i in found) or "-"))
    return usable[0]


def own_mac(found: list[Interface], *, guess: bool = False) -> str | None:
    """This PC's MAC: the only network card with a link, else the only card at all. With
    several, None — or, with ``guess`` (a value the person still confirms), the first."""
    cards = [i for i in found if i.name != "lo" and i.mac]
    up = [i for i in cards if i.up]
    for group in (up, cards):
        if len(group) == 1:
            return group[0].mac
    if guess and (up or cards):
        return (up or cards)[0].mac
    return None


@dataclass(frozen=True)
class Listener:
    protocol: str  # udp or tcp
    address: str
    port: int
    program: str  # what ss names ("dnsmasq"), "?" when it cannot tell


_SS_USER = re.compile(r'\(\("([^"]+)",pid=(\d+)')


def parse_ss(text: str, protocol: str) -> list[Listener]:
    """`ss -H -l -n -p` lines: state, queues, local address:port, peer, users."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 5:
            continue
        address, _sep, port = words[3].rpartition(":")
        if not port.isdigit():
            continue
        user = _SS_USER.search(line)
        program = f"{user.group(1)} (pid {user.group(2)})" if user else "?"
        found.append(Listener(protocol, address.strip("[]"), int(port), program))
    return found


def listeners() -> list[Listener]:
    """The UDP and TCP ports programs of this PC (in this network namespace) listen on."""
    return [*parse_ss(run.output(["ss", "-H", "-u", "-l", "-n", "-p"]), "udp"),
            *parse_ss(run.output(["ss", "-H", "-t", "-l", "-n", "-p"]), "tcp")]
