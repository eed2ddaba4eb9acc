"""A cloned Linux partition made into its own PC (its root mounted read-write at ``root``):
hostname, hosts, a machine-id left empty (systemd makes a new one at first boot), the model's
SSH host keys removed (a first-boot unit makes new ones, and joins the domain if asked), and
the static address in whatever the system uses: netplan, NetworkManager or ifupdown.
Nothing else is touched; every change is named for the report."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from oscar.ops.personalise.clients import Client
from oscar.ops.personalise.files import render, replace_file

FIRSTBOOT_UNIT = "etc/systemd/system/oscar-firstboot.service"
FIRSTBOOT_LINK = "etc/systemd/system/multi-user.target.wants/oscar-firstboot.service"
FIRSTBOOT_SCRIPT = "usr/local/sbin/oscar-firstboot"
_HOSTS_SELF = re.compile(r"^127\.0\.1\.1\s")
_IFACE_DHCP = re.compile(r"^iface\s+(\S+)\s+inet\s+dhcp\s*$")


def is_linux_root(root: Path) -> bool:
    return (root / "etc/os-release").exists() or (root / "usr/lib/os-release").exists()


def network_system(root: Path) -> str | None:
    """Which of netplan, NetworkManager or ifupdown configures this system's network."""
    if any((root / "etc/netplan").glob("*.yaml")):
        return "netplan"
    if (root / "etc/NetworkManager").is_dir() and (root / "usr/sbin/NetworkManager").exists():
        return "networkmanager"
    if (root / "etc/network/interfaces").exists():
        return "ifupdown"
    return None


def hosts_text(old: str, hostname: str) -> str:
    lines = old.splitlines()
    entry = f"127.0.1.1\t{hostname}"
    for index, line in enumerate(lines):
        if _HOSTS_SELF.match(line):
            lines[index] = entry
            break
    else:
        after = next((i + 1 for i, line in enumerate(lines) if line.startswith("127.0.0.1")), 0)
        lines.insert(after, entry)
    return "\n".join(lines) + "\n"


def ifupdown_text(old: str, client: Client) -> str:
    """The model's DHCP stanza (its interface name is the clone's too: same hardware) turned
    static; without one, a stanza is added for the first interface that is not lo."""
    assert client.network is not None
    net = client.network
    static = ["inet static", f"    address {net.address}"]
    if net.gateway:
        static.append(f"    gateway {net.gateway}")
    if net.dns:
        static.append("    dns-nameservers " + " ".join(str(d) for d in net.dns))
    out: list[str] = []
    lines = old.splitlines()
    replaced = False
    skip = False
    for line in lines:
        match = _IFACE_DHCP.match(line)
        if match and not replaced:
            out.append(f"iface {match.group(1)} " + "\n".join(static))
            replaced = skip = True
            continue
        if skip and line.startswith((" ", "\t")) and line.strip():
            continue  # options of the DHCP stanza
        skip = False
        out.append(line)
    if not replaced:
        raise ValueError("no DHCP interface stanza")
    return "\n".join(out) + "\n"


def personalise(root: Path, client: Client) -> list[str]:
    """Apply ``client`` to the Linux system at ``root``; the changes, in words (logs)."""
    changes = []
    hostname = client.hostname.lower()
    replace_file(root / "etc/hostname", hostname + "\n", 0o644)
    changes.append(f"/etc/hostname: {hostname}")
    hosts = root / "etc/hosts"
    replace_file(hosts, hosts_text(hosts.read_text() if hosts.exists() else "", hostname), 0o644)
    changes.append(f"/etc/hosts: 127.0.1.1 {hostname}")
    machine_id = root / "etc/machine-id"
    if machine_id.exists():
        replace_file(machine_id, "", 0o444)  # empty, not absent: systemd fills it at first boot
        changes.append("/etc/machine-id emptied")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.is_file() and not dbus_id.is_symlink():
        dbus_id.unlink()
        changes.append("/var/lib/dbus/machine-id removed")
    keys = sorted((root / "etc/ssh").glob("ssh_host_*_key*"))
    for key in keys:
        key.unlink()
    if keys:
        changes.append(f"{len(keys)} SSH host key files removed")
    changes += _network(root, client)
    values = {"hostname": hostname, "domain": client.domain, "join_user": client.join_user,
              "ou": client.ou}
    replace_file(root / FIRSTBOOT_SCRIPT, render("firstboot.sh.j2", **values), 0o755)
    replace_file(root / FIRSTBOOT_UNIT, render("firstboot.service.j2", **values), 0o644)
    link = root / FIRSTBOOT_LINK
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink("/" + FIRSTBOOT_UNIT, link)
    changes.append("first-boot unit: new SSH host keys" +
                   (f", join {client.domain}" if client.domain else ""))
    return changes


def _network(root: Path, client: Client) -> list[str]:
    if client.network is None:
        return ["network: DHCP, as the model"]
    net = client.network
    system = network_system(root)
    values = {"hostname": client.hostname.lower(), "mac": client.mac,
              "address": str(net.address), "gateway": str(net.gateway) if net.gateway else None,
              "dns": [str(d) for d in net.dns], "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                      "oscar:" + client.mac))}
    if system == "netplan":
        replace_file(root / "etc/netplan/90-oscar.yaml",
               render("netplan.yaml.j2", **values), 0o600)
        return [f"netplan: {net.address} on {client.mac}"]
    if system == "networkmanager":
        replace_file(root / "etc/NetworkManager/system-connections/oscar.nmconnection",
               render("networkmanager.nmconnection.j2", **values), 0o600)
        return [f"NetworkManager: {net.address} on {client.mac}"]
    if system == "ifupdown":
        path = root / "etc/network/interfaces"
        try:
            replace_file(path, ifupdown_text(path.read_text(), client), 0o644)
        except ValueError:
            return ["network: no DHCP stanza in /etc/network/interfaces, left as the model"]
        return [f"ifupdown: {net.address}"]
    return ["network: no netplan, NetworkManager or ifupdown found, left as the model"]
