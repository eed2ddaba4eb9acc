"""A cloned Linux partition made into its own PC (its root mounted read-write at ``root``):
hostname, hosts, a machine-id left empty (systemd makes a new one at first boot), the model's
SSH host keys removed (a first-boot unit makes new ones, and joins the domain if asked), and
the static address in whatever the system uses: netplan, NetworkManager or ifupdown.
Nothing else is touched; every change is named for the report."""

from __future__ import annotations

import os
import re
import shlex
import uuid
from pathlib import Path

import jinja2

from oscar.personalise.clients import Client

TEMPLATES = Path(__file__).parent / "templates"
FIRSTBOOT_UNIT = "etc/systemd/system/oscar-firstboot.service"
FIRSTBOOT_LINK = "etc/systemd/system/multi-user.target.wants/oscar-firstboot.service"
FIRSTBOOT_SCRIPT = "usr/local/sbin/oscar-firstboot"
_HOSTS_SELF = re.compile(r"^127\.0\.1\.1\s")
_IFACE_DHCP = re.compile(r"^iface\s+(\S+)\s+inet\s+dhcp\s*$")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["sh"] = shlex.quote
    return env


def is_linux_root(root: Path) -> bool:
    return (root / "etc/os-release").exists() or (root / "usr/lib/os-release").exists()


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """In place of the old file, atomically, keeping its owner (root on a clone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".oscar-new")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


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
    _write(root / "etc/hostname", hostname + "\n")
    changes.append(f"/etc/hostname: {hostname}")
    hosts = root / "etc/hosts"
    _write(hosts, hosts_text(hosts.read_text() if hosts.exists() else "", hostname))
    changes.append(f"/etc/hosts: 127.0.1.1 {hostname}")
    machine_id = root / "etc/machine-id"
    if machine_id.exists():
        _write(machine_id, "", 0o444)  # empty, not absent: systemd fills it at first boot
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
    env = _env()
    values = {"hostname": hostname, "domain": client.domain, "join_user": client.join_user,
              "ou": client.ou}
    _write(root / FIRSTBOOT_SCRIPT, env.get_template("firstboot.sh.j2").render(**values), 0o755)
    _write(root / FIRSTBOOT_UNIT, env.get_template("firstboot.service.j2").render(**values))
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
    env = _env()
    if system == "netplan":
        _write(root / "etc/netplan/90-oscar.yaml",
               env.get_template("netplan.yaml.j2").render(**values), 0o600)
        return [f"netplan: {net.address} on {client.mac}"]
    if system == "networkmanager":
        _write(root / "etc/NetworkManager/system-connections/oscar.nmconnection",
               env.get_template("networkmanager.nmconnection.j2").render(**values), 0o600)
        return [f"NetworkManager: {net.address} on {client.mac}"]
    if system == "ifupdown":
        path = root / "etc/network/interfaces"
        try:
            _write(path, ifupdown_text(path.read_text(), client))
        except ValueError:
            return ["network: no DHCP stanza in /etc/network/interfaces, left as the model"]
        return [f"ifupdown: {net.address}"]
    return ["network: no netplan, NetworkManager or ifupdown found, left as the model"]
