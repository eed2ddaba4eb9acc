"""A cloned Linux system made its own, on a folder shaped like its root: what changes, what
is generated from the templates (netplan, NetworkManager, ifupdown, the first-boot unit), and
that nothing else is touched."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from oscar.ops.personalise import clients, linux

pytestmark = pytest.mark.unit


def client(ip: str = "10.0.12.101", **extra: str) -> clients.Client:
    fields = {"mac": "52:54:00:12:00:01", "hostname": "S12-PC01", "ip": ip, "prefix": "24",
              "gateway": "10.0.12.254", "dns": "10.0.0.10 10.0.0.11", **extra}
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(fields)
    writer.writerow(fields.values())
    parsed, problems = clients.parse(text.getvalue(), "x.csv")
    assert problems == []
    return parsed.clients[0]


def model_root(tmp: Path, network: str) -> Path:
    root = tmp / "root"
    etc = root / "etc"
    (etc / "ssh").mkdir(parents=True)
    (etc / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (etc / "hostname").write_text("pc-modele\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tpc-modele\n::1 localhost\n")
    (etc / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    for kind in ("rsa", "ed25519"):
        (etc / "ssh" / f"ssh_host_{kind}_key").write_text("secret\n")
        (etc / "ssh" / f"ssh_host_{kind}_key.pub").write_text("public\n")
    (etc / "ssh/sshd_config").write_text("PermitRootLogin no\n")
    (root / "home/eleve").mkdir(parents=True)
    (root / "home/eleve/notes.txt").write_text("à garder\n")
    if network == "ifupdown":
        (etc / "network").mkdir()
        (etc / "network/interfaces").write_text(
            "auto lo\niface lo inet loopback\n\nallow-hotplug enp1s0\niface enp1s0 inet dhcp\n"
            "    hostname pc-modele\n\nsource /etc/network/interfaces.d/*\n")
    elif network == "netplan":
        (etc / "netplan").mkdir()
        (etc / "netplan/01-netcfg.yaml").write_text("network: {version: 2}\n")
    elif network == "networkmanager":
        (etc / "NetworkManager/system-connections").mkdir(parents=True)
        (root / "usr/sbin").mkdir(parents=True)
        (root / "usr/sbin/NetworkManager").write_text("")
    return root


def tree(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = "link" if path.is_symlink() else hashlib.sha256(
            path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


EDITED = {"etc/hostname", "etc/hosts", "etc/machine-id", "etc/network/interfaces",
          linux.FIRSTBOOT_UNIT, linux.FIRSTBOOT_LINK, linux.FIRSTBOOT_SCRIPT,
          "etc/netplan/90-oscar.yaml",
          "etc/NetworkManager/system-connections/oscar.nmconnection"}


@pytest.mark.parametrize("network", ["ifupdown", "netplan", "networkmanager"])
def test_a_clone_gets_its_name_ids_keys_and_address(tmp_path: Path, network: str) -> None:
    root = model_root(tmp_path, network)
    before = tree(root)
    assert linux.is_linux_root(root) and linux.network_system(root) == network
    changes = linux.personalise(root, client())
    after = tree(root)
    etc = root / "etc"
    assert (etc / "hostname").read_text() == "s12-pc01\n"
    assert "127.0.1.1\ts12-pc01" in (etc / "hosts").read_text().splitlines()
    assert "127.0.0.1\tlocalhost" in (etc / "hosts").read_text()
    assert (etc / "machine-id").read_text() == ""
    assert not list((etc / "ssh").glob("ssh_host_*"))
    assert "sshd_config" in os.listdir(etc / "ssh")
    unit = (root / linux.FIRSTBOOT_UNIT).read_text()
    assert "Before=ssh.service" in unit and "WantedBy=multi-user.target" in unit
    assert os.readlink(root / linux.FIRSTBOOT_LINK) == "/" + linux.FIRSTBOOT_UNIT
    script = root / linux.FIRSTBOOT_SCRIPT
    assert os.access(script, os.X_OK) and "ssh-keygen -A" in script.read_text()
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    if network == "ifupdown":
        text = (etc / "network/interfaces").read_text()
        assert "iface enp1s0 inet static\n    address 10.0.12.101/24\n    gateway 10.0.12.254\n" \
               "    dns-nameservers 10.0.0.10 10.0.0.11\n" in text
        assert "inet dhcp" not in text and "hostname pc-modele" not in text
        assert "iface lo inet loopback" in text and "source /etc/network/interfaces.d/*" in text
    elif network == "netplan":
        plan = yaml.safe_load((etc / "netplan/90-oscar.yaml").read_text())["network"]
        nic = plan["ethernets"]["oscar0"]
        assert nic["match"]["macaddress"] == "52:54:00:12:00:01"
        assert nic["addresses"] == ["10.0.12.101/24"] and nic["dhcp4"] is False
        assert nic["routes"] == [{"to": "default", "via": "10.0.12.254"}]
        assert nic["nameservers"]["addresses"] == ["10.0.0.10", "10.0.0.11"]
    else:
        path = etc / "NetworkManager/system-connections/oscar.nmconnection"
        text = path.read_text()
        assert "mac-address=52:54:00:12:00:01" in text.lower()
        assert "address1=10.0.12.101/24,10.0.12.254" in text and "dns=10.0.0.10;10.0.0.11;" in text
        assert path.stat().st_mode & 0o777 == 0o600  # NetworkManager ignores readable keyfiles
    # nothing else changed: only the edited files (and the folders made for them) differ,
    # and only the SSH host keys are gone
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    gone = {p for p in before if p not in after}
    folders = {str(parent) for path in EDITED for parent in Path(path).parents}
    assert changed - EDITED - gone - folders == set()
    assert gone == {f"etc/ssh/ssh_host_{k}_key{s}" for k in ("rsa", "ed25519") for s in ("", ".pub")}
    assert any("SSH host key" in c for c in changes)


def test_dhcp_client_keeps_the_models_network_and_a_domain_joins_at_first_boot(
        tmp_path: Path) -> None:
    root = model_root(tmp_path, "ifupdown")
    models = (root / "etc/network/interfaces").read_text()
    joined = client(ip="dhcp", domain="college.local", join_user="joinpc",
                    ou="OU=Salle 12,DC=college,DC=local", gateway="", dns="")
    changes = linux.personalise(root, joined)
    assert (root / "etc/network/interfaces").read_text() == models
    assert "network: DHCP, as the model" in changes
    script = (root / linux.FIRSTBOOT_SCRIPT).read_text()
    assert "realm join --user=joinpc --computer-ou='OU=Salle 12,DC=college,DC=local' " \
           "college.local" in script
    assert subprocess.run(["sh", "-n", str(root / linux.FIRSTBOOT_SCRIPT)]).returncode == 0


def test_hosts_without_a_self_line_gets_one_after_localhost() -> None:
    assert linux.hosts_text("127.0.0.1 localhost\n::1 localhost\n", "pc") == \
        "127.0.0.1 localhost\n127.0.1.1\tpc\n::1 localhost\n"
