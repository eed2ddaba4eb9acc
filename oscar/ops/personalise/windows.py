"""A cloned Windows partition made its own PC (mounted read-write with ntfs-3g at ``root``).

Two paths, chosen by what the image is (and said in the changes):
- generalized with sysprep (SYSTEM: Setup\\Status\\SysprepStatus GeneralizationState = 7):
  Windows/Panther/unattend.xml, read by Windows' specialize pass at its first start: computer
  name, product key, domain join or workgroup, static address per MAC;
- not generalized: the SYSTEM hive edited offline (computer name, TCP/IP host name, DNS
  suffix of the domain), and what cannot be done offline (address, product key, workgroup or
  domain join) in a PowerShell script run once at the first administrator logon (RunOnce in
  the SOFTWARE hive), which removes itself.
"""

from __future__ import annotations

from pathlib import Path

from oscar.engine import registry
from oscar.ops.personalise.clients import Client
from oscar.ops.personalise.files import render, replace_file

SYSTEM = "Windows/System32/config/SYSTEM"
SOFTWARE = "Windows/System32/config/SOFTWARE"
UNATTEND = "Windows/Panther/unattend.xml"
FIRSTBOOT = "Windows/OSCAR/firstboot.ps1"
FIRSTBOOT_WINDOWS_PATH = "C:\\Windows\\OSCAR\\firstboot.ps1"
RUNONCE = "Microsoft\\Windows\\CurrentVersion\\RunOnce"
GENERALIZED = 7  # GeneralizationState after sysprep /generalize


def is_windows_root(root: Path) -> bool:
    return (root / SYSTEM).is_file()


def is_generalized(system_hive: Path) -> bool:
    state = registry.read_dword(system_hive, "Setup\\Status\\SysprepStatus",
                                "GeneralizationState")
    return state == GENERALIZED


def _values(client: Client, join_password: str | None) -> dict[str, object]:
    net = client.network
    return {"name": client.hostname.upper(), "product_key": client.product_key,
            "domain": client.domain, "ou": client.ou, "join_user": client.join_user,
            "join_password": join_password,
            "workgroup": client.workgroup or ("WORKGROUP" if not client.domain else None),
            "mac_dashes": client.mac.upper().replace(":", "-"),
            "address": str(net.address) if net else None,
            "ip": str(net.address.ip) if net else None,
            "prefix": net.address.network.prefixlen if net else None,
            "gateway": str(net.gateway) if net and net.gateway else None,
            "dns": [str(d) for d in net.dns] if net else []}


def render_unattend(client: Client, join_password: str | None = None) -> str:
    return render("unattend.xml.j2", **_values(client, join_password))


def render_firstboot(client: Client) -> str:
    return render("firstboot.ps1.j2", **_values(client, None))


def _write(path: Path, text: str) -> None:
    replace_file(path, text.replace("\n", "\r\n"))  # Windows' own line ends


def personalise(root: Path, client: Client, join_password: str | None = None) -> list[str]:
    """Apply ``client`` to the Windows at ``root``; the changes, in words (logs, report)."""
    name = client.hostname.upper()
    if is_generalized(root / SYSTEM):
        _write(root / UNATTEND, render_unattend(client, join_password))
        return [f"generalized (sysprep) image: {UNATTEND} for {name}"]
    hive = root / SYSTEM
    current = registry.read_dword(hive, "Select", "Current") or 1
    control_set = f"ControlSet{current:03d}"
    tcpip: dict[str, str | int] = {"Hostname": client.hostname.lower(),
                                   "NV Hostname": client.hostname.lower()}
    if client.domain:
        tcpip |= {"Domain": client.domain, "NV Domain": client.domain}
    registry.set_values(hive, {
        f"{control_set}\\Control\\ComputerName\\ComputerName": {"ComputerName": name},
        f"{control_set}\\Control\\ComputerName\\ActiveComputerName": {"ComputerName": name},
        f"{control_set}\\Services\\Tcpip\\Parameters": tcpip})
    changes = [f"not generalized: SYSTEM hive edited ({control_set}: computer name {name})"]
    steps = []
    if client.network is not None:
        steps.append(f"address {client.network.address}")
    if client.product_key:
        steps.append("product key")
    steps.append(f"join {client.domain}" if client.domain else
                 f"workgroup {client.workgroup or 'WORKGROUP'}")
    _write(root / FIRSTBOOT, render_firstboot(client))
    registry.set_values(root / SOFTWARE, {RUNONCE: {
        "OSCAR": f"powershell.exe -NoProfile -ExecutionPolicy Bypass -File "
                 f"{FIRSTBOOT_WINDOWS_PATH}"}})
    changes.append("at the first administrator logon (RunOnce): " + ", ".join(steps))
    return changes
