"""A cloned Windows made its own, on a folder shaped like its partition with real hives built
by python3-hivex: the offline path (SYSTEM hive edited, first-logon script) and the sysprep
path (unattend.xml), each chosen from what the image is."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from oscar.engine import registry
from oscar.ops import lab
from oscar.ops.personalise import clients, windows

pytestmark = pytest.mark.unit
NS = {"u": "urn:schemas-microsoft-com:unattend"}
ROOM = """\
defaults: {prefix: 24, gateway: 10.0.12.254, dns: [10.0.0.10, 10.0.0.11]}
clients:
  - {mac: "52:54:00:12:00:01", hostname: s12-pc01, ip: 10.0.12.101,
     product_key: ABCDE-12345-FGHIJ-67890-KLMNO, domain: college.local,
     ou: "OU=Salle12,DC=college,DC=local", join_user: "COLLEGE\\\\joinpc"}
  - {mac: "52:54:00:12:00:02", hostname: S12-PC02, ip: dhcp, workgroup: SALLE12}
"""


def room() -> list[clients.Client]:
    parsed, problems = clients.parse(ROOM, "room.yaml")
    assert problems == []
    return parsed.clients


def windows_root(tmp: Path, *, generalized: bool) -> Path:
    root = tmp / "windows"
    config = root / "Windows/System32/config"
    config.mkdir(parents=True)
    registry.build_system_hive(lab.registry_seed(), config / "SYSTEM", computer_name="PC-MODELE",
                               workgroup="WORKGROUP")
    registry.build_software_hive(lab.registry_seed(), config / "SOFTWARE")
    if generalized:
        registry.set_values(config / "SYSTEM", {"Setup\\Status\\SysprepStatus": {
            "GeneralizationState": 7, "CleanupState": 2}})
    (root / "Users/Professeur").mkdir(parents=True)
    (root / "Users/Professeur/cours.txt").write_text("à garder\r\n")
    return root


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_not_generalized_edits_the_hive_and_leaves_a_first_logon_script(tmp_path: Path) -> None:
    root = windows_root(tmp_path, generalized=False)
    kept = digest(root / "Users/Professeur/cours.txt")
    one = room()[0]
    changes = windows.personalise(root, one)
    assert changes[0].startswith("not generalized: SYSTEM hive edited (ControlSet001")
    system, software = root / windows.SYSTEM, root / windows.SOFTWARE
    base = "ControlSet001\\Control\\ComputerName\\"
    assert registry.read_string(system, base + "ComputerName", "ComputerName") == "S12-PC01"
    assert registry.read_string(system, base + "ActiveComputerName", "ComputerName") == "S12-PC01"
    tcpip = "ControlSet001\\Services\\Tcpip\\Parameters"
    assert registry.read_string(system, tcpip, "Hostname") == "s12-pc01"
    assert registry.read_string(system, tcpip, "NV Hostname") == "s12-pc01"
    assert registry.read_string(system, tcpip, "Domain") == "college.local"
    # the rest of both hives is still there
    assert registry.read_string(system, "ControlSet001\\Services\\LanmanWorkstation\\Parameters",
                                "Workgroup") == "WORKGROUP"
    assert registry.read_string(software, "Microsoft\\Windows NT\\CurrentVersion",
                                "ProductName") == "Windows 10 Education"
    command = registry.read_string(software, windows.RUNONCE, "OSCAR")
    assert command == ("powershell.exe -NoProfile -ExecutionPolicy Bypass -File "
                       "C:\\Windows\\OSCAR\\firstboot.ps1")
    script = (root / windows.FIRSTBOOT).read_bytes().decode()
    assert "\r\n" in script and "\n" not in script.replace("\r\n", "")
    assert "$_.MacAddress -eq '52-54-00-12-00-01'" in script
    assert "New-NetIPAddress -InterfaceIndex $nic.ifIndex -IPAddress '10.0.12.101' -PrefixLength 24 " \
           "-DefaultGateway '10.0.12.254'" in script
    assert "-ServerAddresses '10.0.0.10','10.0.0.11'" in script
    assert "slmgr.vbs\" /ipk 'ABCDE-12345-FGHIJ-67890-KLMNO'" in script
    assert "Add-Computer -DomainName 'college.local' -OUPath 'OU=Salle12,DC=college,DC=local' " \
           "-Credential (Get-Credential 'COLLEGE\\joinpc')" in script
    assert "address 10.0.12.101/24, product key, join college.local" in changes[1]
    assert digest(root / "Users/Professeur/cours.txt") == kept
    assert not list(root.rglob("*.oscar-new"))
    assert system.read_bytes()[:4] == b"regf"  # a whole hive took the old one's place


def test_workgroup_and_dhcp_on_the_offline_path(tmp_path: Path) -> None:
    root = windows_root(tmp_path, generalized=False)
    changes = windows.personalise(root, room()[1])
    script = (root / windows.FIRSTBOOT).read_text()
    assert "Add-Computer -WorkgroupName 'SALLE12' -Force" in script
    assert "New-NetIPAddress" not in script and "slmgr" not in script
    assert changes[1].endswith("workgroup SALLE12")


def test_generalized_gets_unattend_xml_and_no_hive_change(tmp_path: Path) -> None:
    root = windows_root(tmp_path, generalized=True)
    system_before = digest(root / windows.SYSTEM)
    software_before = digest(root / windows.SOFTWARE)
    changes = windows.personalise(root, room()[0])
    assert changes == ["generalized (sysprep) image: Windows/Panther/unattend.xml for S12-PC01"]
    assert digest(root / windows.SYSTEM) == system_before
    assert digest(root / windows.SOFTWARE) == software_before
    assert not (root / windows.FIRSTBOOT).exists()
    tree = ET.parse(root / windows.UNATTEND)  # well-formed
    specialize = tree.getroot().find("u:settings[@pass='specialize']", NS)
    assert specialize is not None

    def text(path: str) -> list[str]:
        return [e.text or "" for e in specialize.iterfind(path, NS)]

    shell = "u:component[@name='Microsoft-Windows-Shell-Setup']/"
    join = "u:component[@name='Microsoft-Windows-UnattendedJoin']/u:Identification/"
    tcpip = "u:component[@name='Microsoft-Windows-TCPIP']/u:Interfaces/u:Interface/"
    assert text(shell + "u:ComputerName") == ["S12-PC01"]
    assert text(shell + "u:ProductKey") == ["ABCDE-12345-FGHIJ-67890-KLMNO"]
    assert text(join + "u:JoinDomain") == ["college.local"]
    assert text(join + "u:MachineObjectOU") == ["OU=Salle12,DC=college,DC=local"]
    assert text(join + "u:UnsecureJoin") == ["true"]  # no password given: pre-staged account
    assert text(tcpip + "u:Identifier") == ["52-54-00-12-00-01"]
    assert text(tcpip + "u:UnicastIpAddresses/u:IpAddress") == ["10.0.12.101/24"]
    assert text(tcpip + "u:Routes/u:Route/u:NextHopAddress") == ["10.0.12.254"]
    dns = "u:component[@name='Microsoft-Windows-DNS-Client']/u:Interfaces/u:Interface/"
    assert text(dns + "u:DNSServerSearchOrder/u:IpAddress") == ["10.0.0.10", "10.0.0.11"]


def test_unattend_with_a_join_password_and_a_workgroup() -> None:
    one, two = room()
    with_password = ET.fromstring(windows.render_unattend(one, join_password="s3cr<t&"))
    creds = with_password.find(".//u:Credentials", NS)
    assert creds is not None
    assert [c.text for c in creds] == ["college.local", "COLLEGE\\joinpc", "s3cr<t&"]
    workgroup = ET.fromstring(windows.render_unattend(two))
    assert [e.text for e in workgroup.iterfind(".//u:JoinWorkgroup", NS)] == ["SALLE12"]
    assert workgroup.find(".//u:component[@name='Microsoft-Windows-TCPIP']", NS) is None
