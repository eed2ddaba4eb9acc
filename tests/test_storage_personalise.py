"""OSCAR_déploie on the lab's model PC (real NTFS through ntfs-3g, real ext4): the CLI makes it
a given client; the SYSTEM hive read back with hivex, the Linux files, and every other file
unchanged. Bad clients files, an unknown MAC and a hibernated Windows write nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.engine import registry
from oscar.engine.mount import mounted
from oscar.ops.personalise import linux, windows
from tests.conftest import (
    LabDisks,
    fs_clean,
    hash_device,
    hibernated_windows,
    make_lab,
    oscar,
    snapshot_partition,
)

pytestmark = pytest.mark.storage
MAC = "52:54:00:12:00:07"
ROOM = f"""\
defaults: {{prefix: 24, gateway: 10.0.12.254, dns: [10.0.0.10]}}
clients:
  - {{mac: "{MAC}", hostname: S12-PC07, ip: 10.0.12.107, workgroup: SALLE12,
     product_key: ABCDE-12345-FGHIJ-67890-KLMNO}}
  - {{mac: "52:54:00:12:00:08", hostname: S12-PC08, ip: dhcp}}
  - {{mac: "52:54:00:12:00:09", hostname: S12-PROF, ip: 10.0.12.109,
     product_key: ZYXWV-12345-FGHIJ-67890-KLMNO, domain: college.local,
     ou: "OU=Profs,DC=college,DC=local", join_user: joinpc}}
"""
WINDOWS_EDITED = {windows.SYSTEM, windows.SOFTWARE, windows.FIRSTBOOT, "Windows/OSCAR"}
LINUX_EDITED = {"etc/hostname", "etc/hosts", "etc/machine-id", "etc/network/interfaces",
                linux.FIRSTBOOT_UNIT, linux.FIRSTBOOT_LINK, linux.FIRSTBOOT_SCRIPT,
                "etc/systemd/system/multi-user.target.wants", "usr/local/sbin"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("personalise-lab"), gpt=False, clients=0) as disks:
        yield disks


def clients_file(tmp_path: Path, text: str = ROOM, name: str = "salle12.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def hashes(lab: LabDisks) -> list[str]:
    return [hash_device(lab.part(lab.model, n)) for n in (1, 2)]


def test_refusals_write_nothing(lab: LabDisks, tmp_path: Path) -> None:
    before = hashes(lab)
    bad = clients_file(tmp_path, "mac,hostname,ip\n52:54:00:12:00:07,PC-1,dhcp\n"
                       "52:54:00:12:00:07,PC 2,dhcp\n", "bad.csv")
    got = oscar("personalise", "--disk", lab.model, "--clients", bad, "--mac", MAC, "--yes")
    assert got.returncode == 2
    assert "line 3: MAC address 52:54:00:12:00:07 is already on line 2" in got.stderr
    assert "line 3: 'PC 2' is not a name Windows accepts" in got.stderr
    assert "nothing was written to any disk" in got.stderr
    unknown = oscar("personalise", "--disk", lab.model, "--clients", clients_file(tmp_path),
                    "--mac", "00:11:22:33:44:55", "--yes")
    assert unknown.returncode == 2 and "no line for 00:11:22:33:44:55" in unknown.stderr
    check = oscar("personalise", "--disk", lab.model, "--clients", clients_file(tmp_path),
                  "--check")
    assert check.returncode == 0 and "3 clients, no problem" in check.stdout
    with hibernated_windows(lab.part(lab.model, 1), tmp_path):
        hibernated = hashes(lab)
        got = oscar("personalise", "--disk", lab.model, "--clients", clients_file(tmp_path),
                    "--mac", MAC, "--yes")
        assert got.returncode == 9 and "hibernated" in got.stderr, got.stderr
        assert hashes(lab) == hibernated
    assert hashes(lab)[1] == before[1]


def test_the_model_becomes_the_client_and_nothing_else_changes(lab: LabDisks,
                                                               tmp_path: Path) -> None:
    win_dev, lin_dev = lab.part(lab.model, 1), lab.part(lab.model, 2)
    win_before = snapshot_partition(win_dev, "ntfs")
    lin_before = snapshot_partition(lin_dev, "ext4")
    got = oscar("personalise", "--disk", lab.model, "--clients", clients_file(tmp_path),
                "--mac", MAC, "--yes")
    assert got.returncode == 0, got.stderr
    assert "partition 1: not generalized: SYSTEM hive edited (ControlSet001: computer name " \
           "S12-PC07)" in got.stdout
    assert "partition 2: /etc/hostname: s12-pc07" in got.stdout
    assert "partition 2: ifupdown: 10.0.12.107/24" in got.stdout
    fs_clean(win_dev, "ntfs")
    fs_clean(lin_dev, "ext4")
    with mounted(win_dev, "ntfs", readonly=True) as win:
        system = win / windows.SYSTEM
        assert registry.read_string(system, "ControlSet001\\Control\\ComputerName\\ComputerName",
                                    "ComputerName") == "S12-PC07"
        assert registry.read_string(system, "ControlSet001\\Services\\Tcpip\\Parameters",
                                    "NV Hostname") == "s12-pc07"
        assert registry.read_string(win / windows.SOFTWARE, windows.RUNONCE, "OSCAR")
        script = (win / windows.FIRSTBOOT).read_text()
        assert "-IPAddress '10.0.12.107' -PrefixLength 24" in script and "'SALLE12'" in script
    with mounted(lin_dev, "ext4", readonly=True) as root:
        assert (root / "etc/hostname").read_text() == "s12-pc07\n"
        assert "127.0.1.1\ts12-pc07" in (root / "etc/hosts").read_text()
        assert (root / "etc/machine-id").read_text() == ""
        assert not list((root / "etc/ssh").glob("ssh_host_*"))
        assert "iface enp1s0 inet static\n    address 10.0.12.107/24" in (
            root / "etc/network/interfaces").read_text()
        assert (root / linux.FIRSTBOOT_LINK).is_symlink()
    # every other file exactly as it was: content, size, mode, owner, times, xattrs/ADS
    win_after = snapshot_partition(win_dev, "ntfs")
    lin_after = snapshot_partition(lin_dev, "ext4")
    for before, after, edited in ((win_before, win_after, WINDOWS_EDITED),
                                  (lin_before, lin_after, LINUX_EDITED)):
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        parents = {str(Path(p).parent) for p in edited}
        unexpected = {p for p in changed - edited - parents
                      if not p.startswith("etc/ssh/ssh_host_")}
        # the folders holding an edited file get a new mtime; nothing else may differ
        assert unexpected <= {"etc", "etc/ssh", "Windows/System32/config", "Windows",
                              "etc/systemd", "etc/systemd/system", "usr", "usr/local"}, unexpected


def test_a_generalized_windows_gets_unattend_xml(lab: LabDisks, tmp_path: Path) -> None:
    win_dev = lab.part(lab.model, 1)
    with mounted(win_dev, "ntfs") as win:
        registry.set_values(win / windows.SYSTEM, {"Setup\\Status\\SysprepStatus": {
            "GeneralizationState": 7}})
        (win / windows.FIRSTBOOT).unlink(missing_ok=True)
    with mounted(win_dev, "ntfs", readonly=True) as win:
        system_before = (win / windows.SYSTEM).read_bytes()
    got = oscar("personalise", "--disk", lab.model, "--clients", clients_file(tmp_path),
                "--mac", "52:54:00:12:00:09", "--yes")
    assert got.returncode == 0, got.stderr
    assert "generalized (sysprep) image: Windows/Panther/unattend.xml for S12-PROF" in got.stdout
    with mounted(win_dev, "ntfs", readonly=True) as win:
        assert (win / windows.SYSTEM).read_bytes() == system_before
        assert not (win / windows.FIRSTBOOT).exists()
        unattend = ET.parse(win / windows.UNATTEND).getroot()  # well-formed
    ns = {"u": "urn:schemas-microsoft-com:unattend"}
    found = {tag: [e.text for e in unattend.iterfind(f".//u:{tag}", ns)]
             for tag in ("ComputerName", "ProductKey", "JoinDomain", "MachineObjectOU",
                         "IpAddress", "NextHopAddress")}
    assert found == {"ComputerName": ["S12-PROF"],
                     "ProductKey": ["ZYXWV-12345-FGHIJ-67890-KLMNO"],
                     "JoinDomain": ["college.local"],
                     "MachineObjectOU": ["OU=Profs,DC=college,DC=local"],
                     "IpAddress": ["10.0.12.109/24", "10.0.0.10"],
                     "NextHopAddress": ["10.0.12.254"]}
    assert partition_path(lab.model, 1) == win_dev


def test_tools_menu_personalises_after_showing_the_files_problems(lab: LabDisks,
                                                                   tmp_path: Path) -> None:
    """Outils → OSCAR_déploie: a bad file is shown line by line and nothing is written; the
    right file and MAC → plan → Confirm → the result names what changed."""
    import urwid

    from oscar.ui.tui.app import App
    from oscar.ui.tui.main import build
    from tests.test_storage_tui import choose

    def fill(values: list[str]) -> None:
        edits = [getattr(w, "original_widget", w) for w in app.current.widget.body]
        edits = [e for e in edits if isinstance(e, urwid.Edit)]
        assert len(edits) == len(values)
        for edit, value in zip(edits, values, strict=True):
            edit.set_edit_text(value)

    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("t", "enter")  # Tools
    choose(app, "OSCAR_déploie")
    assert "Which disk holds the systems to personalise?" in app.screen_text()
    choose(app, Path(lab.model).name)
    form = app.screen_text()
    assert "Clients file (YAML or CSV)" in form and "MAC address of this PC" in form
    before = hashes(lab)
    bad = clients_file(tmp_path, "mac,hostname\n52:54:00:12:00:07,PC_07\n", "bad.csv")
    fill([bad, MAC])
    choose(app, "Continue")
    text = app.screen_text()
    assert "line 2: 'PC_07' is not a name Windows accepts" in text, text
    assert hashes(lab) == before
    choose(app, "OK")
    fill([clients_file(tmp_path), "52:54:00:12:00:08"])
    choose(app, "Continue")
    assert "Personalise " + lab.model + " as S12-PC08" in app.screen_text()
    choose(app, "Confirm")
    app.wait_task()
    text = app.screen_text()
    assert "This PC is now S12-PC08." in text, text
    assert "partition 2: /etc/hostname: s12-pc08" in text
    with mounted(lab.part(lab.model, 2), "ext4", readonly=True) as root:
        assert (root / "etc/hostname").read_text() == "s12-pc08\n"


def test_clients_template_from_a_deployment_report(tmp_path: Path) -> None:
    report = tmp_path / "deploy.json"
    report.write_text('{"session": "5ec79db004a6", "backup": "salle12", "clients": '
                      '[{"mac": "52:54:00:12:00:01"}, {"mac": "52:54:00:12:00:02"}]}')
    output = tmp_path / "salle12.yaml"
    got = oscar("clients", "template", "--report", str(report), "--output", str(output))
    assert got.returncode == 0 and "Clients file written" in got.stdout, got.stderr
    check = oscar("personalise", "--disk", "/dev/null", "--clients", str(output), "--check")
    assert check.returncode == 0 and "2 clients, no problem" in check.stdout
    again = oscar("clients", "template", "--report", str(report), "--output", str(output))
    assert again.returncode == 2 and "already exists" in again.stderr
    broken = oscar("clients", "template", "--report", str(tmp_path / "none.json"))
    assert broken.returncode == 2 and "cannot be read" in broken.stderr
