"""Hostile and clumsy input (issue 17), pure code: the manifest reader, the clients file
reader, the name checks, the templates' escaping, the CLI's and the menu's last line of defence.
Property-based tests (Debian's python3-hypothesis) beside the cases found by hand."""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oscar.backups import manifest, store
from oscar.core import safetext
from oscar.core.errors import BackupInvalid, UsageError
from oscar.disks import probe
from oscar.ops.personalise import clients as clients_file
from oscar.ops.personalise import files, linux, windows
from oscar.ops.personalise.clients import Client, Network
from oscar.ui.cli import main as cli
from tests.conftest import oscar

pytestmark = pytest.mark.unit

GOOD: dict[str, Any] = {
    "format": manifest.FORMAT, "name": "salle12", "created": "2026-11-30T10:00:00+01:00",
    "hostname": "oscar", "oscar_version": "0.1.0", "state": "complete", "notes": [],
    "tools": {"fsarchiver": "0.8.7"},
    "source": {"name": "sda", "size": 1 << 30, "sector_size": 512, "pttype": "dos",
               "identity": "wwn-0x5000", "path": "/dev/sda", "model": "QEMU", "serial": None,
               "wwn": None, "ptuuid": "1234abcd"},
    "table_files": ["sda-pt.sf", "sda-mbr", "sda-hidden-data-after-mbr", "oscar-save.log"],
    "partitions": [
        {"number": 1, "name": "sda1", "start": 1 << 20, "size": 400 << 20, "fstype": "ntfs",
         "label": "Windows", "uuid": "0123ABCD", "partuuid": "1234abcd-01", "role": "data",
         "method": "ntfsclone", "compress": "zstd", "files": ["sda1.ntfs-img.zst"],
         "used": 100 << 20, "stored": 30 << 20},
        {"number": 2, "name": "sda2", "start": 401 << 20, "size": 40 << 20, "fstype": "swap",
         "label": None, "uuid": "0a1b-2c3d", "partuuid": None, "role": "swap", "method": None,
         "compress": None, "files": ["swappt-sda2.info"], "used": None, "stored": 0},
        {"number": 3, "name": "sda3", "start": 441 << 20, "size": 300 << 20, "fstype": "ext4",
         "label": "OSCAR", "uuid": None, "partuuid": None, "role": "store", "method": None,
         "compress": None, "files": [], "used": None, "stored": 0},
    ],
}


def with_change(path: str, value: object) -> dict[str, Any]:
    """GOOD with one field set (``a.b.0.c``); ``DELETE`` removes it."""
    data = copy.deepcopy(GOOD)
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in path.split(".")]
    target: Any = data
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


DELETE = object()


def test_the_good_manifest_reads() -> None:
    man = manifest.parse(copy.deepcopy(GOOD))
    assert man.source["name"] == "sda" and [p.number for p in man.partitions] == [1, 2, 3]
    assert man.table_file("-pt.sf") == "sda-pt.sf"
    assert man.table_file("-gpt-1st") is None  # not listed: never read


@pytest.mark.parametrize("path,value,field", [
    ("source.name", "../evil", "source.name"),
    ("source.name", "/tmp/evil", "source.name"),
    ("source.name", "sda/../../etc", "source.name"),
    ("source.name", DELETE, "source.name"),
    ("source.size", "abc", "source.size"),
    ("source.sector_size", 513, "source.sector_size"),
    ("partitions.0.stored", "x", "partitions[0].stored"),
    ("partitions.0.size", "abc", "partitions[0].size"),
    ("partitions.0.size", -1, "partitions[0].size"),
    ("partitions.0.number", "1", "partitions[0].number"),
    ("partitions.0.number", True, "partitions[0].number"),
    ("partitions.0.fstype", "../../tmp/x", "partitions[0].fstype"),
    ("partitions.0.fstype", "hfsplus", "partitions[0].fstype"),  # ntfsclone cannot hold it
    ("partitions.0.method", "shell", "partitions[0].method"),
    ("partitions.0.compress", "xz", "partitions[0].compress"),
    ("partitions.0.files", ["../../etc/shadow"], "partitions[0].files[0]"),
    ("partitions.0.files", "sda1.ntfs-img.zst", "partitions[0].files"),
    ("partitions.0.label", "Win\x1b[2Jdows", "partitions[0].label"),
    ("partitions.0.role", "system", "partitions[0].role"),
    ("partitions.0.start", 1 << 62, "partitions[0].start"),
    ("partitions.2.files", ["x"], "partitions[2].files"),
    ("partitions.1.number", 1, "partitions"),
    ("created", 12345, "created"),
    ("created", "yesterday", "created"),
    ("table_files", ["sda-pt.sf", "/etc/passwd"], "table_files[1]"),
    ("table_files", ["B2SUMS"], "table_files"),
    ("format", "oscar-backup/2", "format"),
    ("state", "half", "state"),
    ("extra", 1, "manifest.extra"),
    ("partitions", {"0": {}}, "partitions"),
    ("source", None, "source"),
])
def test_every_wrong_field_is_named(path: str, value: object, field: str) -> None:
    with pytest.raises(manifest.Damaged) as caught:
        manifest.parse(with_change(path, value))
    assert caught.value.field == field


@pytest.mark.parametrize("data", [[], None, "text", 3, [GOOD]])
def test_a_manifest_that_is_not_a_mapping(data: object) -> None:
    with pytest.raises(manifest.Damaged):
        manifest.parse(data)


@pytest.mark.parametrize("content", [b"\xff\xfe{", b"{not json", b"[" * 100_000,
                                     json.dumps([1, 2]).encode()])
def test_load_says_damaged_for_any_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / manifest.FILE).write_bytes(content)
    with pytest.raises(BackupInvalid) as caught:
        manifest.load(tmp_path)
    assert "damaged" in caught.value.message


# A JSON value of any shape, to put where the manifest has a field.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
FIELD_PATHS = ["name", "created", "hostname", "state", "format", "notes", "tools", "source",
               "source.name", "source.size", "source.sector_size", "source.pttype",
               "source.identity", "table_files", "partitions", "partitions.0",
               *(f"partitions.{i}.{k}" for i in (0, 1, 2) for k in (
                   "number", "name", "start", "size", "fstype", "label", "uuid", "role",
                   "method", "compress", "files", "used", "stored"))]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELD_PATHS), JSON), min_size=1, max_size=3))
def test_generated_manifests_never_crash_never_escape(changes: list[tuple[str, object]]) -> None:
    data = copy.deepcopy(GOOD)
    for path, value in changes:
        try:
            data = _set(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced the container
    try:
        man = manifest.parse(data)
    except manifest.Damaged:
        return
    assert safetext.is_kernel_name(man.source["name"])
    for name in man.all_files:
        assert safetext.is_file_name(name) and (Path("/b") / name).parent == Path("/b")
    for part in man.partitions:
        assert isinstance(part.size, int) and part.size > 0 and isinstance(part.number, int)
        assert part.method in (None, *manifest.METHODS)


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in path.split(".")]
    target: Any = data
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return data


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_manifest_text_is_read_or_called_damaged(text: str) -> None:
    try:
        data = json.loads(text)
    except ValueError:
        return
    try:
        manifest.parse(data)
    except manifest.Damaged:
        pass


def fake_backup(root: Path, name: str, data: object) -> None:
    folder = root / name
    folder.mkdir()
    (folder / manifest.FILE).write_text(json.dumps(data))
    (folder / "B2SUMS").write_text("")


def test_one_damaged_manifest_does_not_hide_the_others(tmp_path: Path) -> None:
    fake_backup(tmp_path, "good", GOOD)
    fake_backup(tmp_path, "evil", with_change("source.name", "../evil"))
    fake_backup(tmp_path, "typed", with_change("partitions.0.size", "abc"))
    fake_backup(tmp_path, "list", [1, 2])
    fake_backup(tmp_path, "null", None)
    (tmp_path / "bad\x1bname").mkdir()
    entries = {e.name: e for e in store.Store(tmp_path).entries()}
    assert entries["good"].state == "complete"
    assert entries["evil"].state == "damaged" and "source.name" in entries["evil"].problem
    assert "partitions[0].size" in entries["typed"].problem
    assert entries["list"].state == entries["null"].state == "damaged"
    assert entries["bad\\x1bname"].state == "damaged"
    result = oscar("list", str(tmp_path))
    assert result.returncode == 0 and "Traceback" not in result.stderr + result.stdout
    assert "good" in result.stdout and "source.name: not a disk name" in result.stdout
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("name", ["salle12\n", "../x", "a/b", ".hidden", "boot", "", "x" * 101,
                                  "a\x00b", "a b", "a\u202eb"])
def test_bad_backup_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        store.check_name(name)


@given(st.text(max_size=120))
def test_an_accepted_backup_name_is_one_plain_folder(name: str) -> None:
    try:
        store.check_name(name)
    except UsageError:
        return
    assert safetext.is_file_name(name) and not name.startswith(".") and "\n" not in name
    assert (Path("/store") / name).parent == Path("/store")


# -- clients files ------------------------------------------------------------------------
LINE = '  - {mac: "52:54:00:12:00:01", hostname: PC01, ip: dhcp}\n'
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize("text,path,words", [
    (ALIAS_BOMB + "clients:\n" + LINE, "room.yaml", "aliases"),
    ("? [a, b]\n: c\nclients:\n" + LINE, "room.yaml", "unhashable"),
    ("clients: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "room.yaml", "tags"),
    ("clients:\n  - !!binary aGVsbG8=\n", "room.yaml", "tags"),
    ("[" * 50_000, "room.yaml", "YAML"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: PC01, join_user: \"a\\nb\", "
     "domain: college.local}\n", "room.yaml", "control characters"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: [PC01]}\n", "room.yaml", "one value"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: PC01, ip: dhcp, gateway: 10.0.0.x}\n",
     "room.yaml", "not an IPv4"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: PC01, ip: dhcp, dns: [1.2.3]}\n",
     "room.yaml", "not an IPv4"),
    ("mac,hostname\n52:54:00:12:00:01," + "A" * 200_000 + "\n", "room.csv", "line 2"),
    ("mac,hostname\n52:54:00:12:00:01," + "A" * 300 + "\n", "room.csv", "longer than"),
    ("mac,hostname\n52:54:00:12:00:01,PC01,extra\n", "room.csv", "more values"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: PC01, domain: college.local, "
     "join_user: 'a;b'}\n", "room.yaml", "account name"),
    ("clients:\n  - {mac: '52:54:00:12:00:01', hostname: PC01, domain: college.local, "
     "join_user: jd, ou: \"OU=x;y\"}\n", "room.yaml", "organisational unit"),
    ("x" * (2 << 20), "room.yaml", "larger than"),
    ("mac,hostname\n\x00\x01\x02", "room.csv", "not a text file"),
])
def test_hostile_clients_files_are_problems_with_a_line(text: str, path: str, words: str) -> None:
    room, problems = clients_file.parse(text, path)
    assert problems and not room.clients
    assert any(words in str(p) for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("content", [
    ALIAS_BOMB.encode() + b"clients:\n" + LINE.encode(),
    b"clients: !!python/object/apply:os.system ['touch /tmp/oscar-pwned']\n",
    b"mac,hostname\n52:54:00:12:00:01," + b"A" * 200_000 + b"\n",
    b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8,
    b"x" * (3 << 20),
    "mac;hostname\n52:54:00:12:00:01;Élève\n".encode("cp1252"),
])
def test_the_cli_says_one_thing_for_every_clients_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "room.csv"
    path.write_bytes(content)
    result = oscar("personalise", "--disk", "/dev/null", "--clients", str(path), "--check")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("oscar: error: ") and "hint: " in result.stderr
    assert not Path("/tmp/oscar-pwned").exists()


def test_a_french_spreadsheet_export(tmp_path: Path) -> None:
    """Excel on a French Windows: Windows-1252, ';' between columns, accents in the OU."""
    path = tmp_path / "salle.csv"
    path.write_bytes("mac;hostname;ip;domain;join_user;ou\r\n"
                     "52:54:00:12:00:01;PC01;dhcp;college.local;jdupont;"
                     "OU=Salle d’arts plastiques,OU=Élèves,DC=college,DC=local\r\n"
                     .encode("cp1252"))
    room = clients_file.load(path)
    assert room.warnings and "Windows-1252" in room.warnings[0]
    assert room.clients[0].ou == "OU=Salle d’arts plastiques,OU=Élèves,DC=college,DC=local"
    assert room.text.startswith("mac;hostname")


@pytest.mark.parametrize("content,words", [
    (b"\x00\x01binary\x00", "not a text file"),
    (b"x" * ((1 << 20) + 1), "larger than 1 MB"),
    (b"mac,hostname\n\x81\x8d\x8f\x90\x9d\n", "neither UTF-8 nor Windows-1252"),
])
def test_unreadable_clients_files_are_one_message(tmp_path: Path, content: bytes,
                                                  words: str) -> None:
    path = tmp_path / "room.csv"
    path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        clients_file.load(path)
    assert words in caught.value.message


def test_a_utf8_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "room.csv"
    path.write_bytes("\ufeffmac,hostname\n52:54:00:12:00:01,PC01\n".encode())
    room = clients_file.load(path)
    assert not room.warnings and room.clients[0].hostname == "PC01"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["room.yaml", "room.csv", "room"]))
def test_any_clients_text_gives_clients_or_problems(text: str, path: str) -> None:
    room, problems = clients_file.parse(text, path)
    for client in room.clients:
        assert clients_file.MAC.match(client.mac)
        for value in (client.hostname, client.domain, client.ou, client.join_user,
                      client.workgroup, client.product_key):
            assert value is None or not safetext.has_control(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_an_accepted_account_or_ou_holds_nothing_special(value: str) -> None:
    if clients_file.ACCOUNT.fullmatch(value):
        assert not safetext.has_control(value) and not set(value) & set("\"/[]:;|=,+*?<>' `$")
    if clients_file.is_ou(value):
        assert not safetext.has_control(value) and not set(value) & set('"\\<>;=#+') - {"="}


# -- what reaches a PC's files --------------------------------------------------------------
HOSTILE = [
    "x'; Remove-Item -Recurse C:\\ ; '",
    "x\u2019; Stop-Computer; \u2018",
    "a\u201b$(touch /tmp/oscar-pwned)\u201a",
    "$(touch /tmp/oscar-pwned)`touch /tmp/oscar-pwned`",
    "x\ntouch /tmp/oscar-pwned\n",
    "a -- b --> <!-- c ]]> & < > \" '",
    "\"; touch /tmp/oscar-pwned; echo \"",
]


def hostile_client(value: str) -> Client:
    """A client built past the validators (as a future bug or a hand-made header might):
    the templates must still keep the value a value."""
    net = Network(ipaddress.IPv4Interface("10.0.12.101/24"), ipaddress.IPv4Address("10.0.12.254"),
                  (ipaddress.IPv4Address("10.0.0.10"),))
    return Client(1, "52:54:00:12:00:01", "PC01", net, None, value, value, value, None)


def powershell_literals(text: str) -> tuple[list[str], str]:
    """The single-quoted string literals of a PowerShell text, read by its quoting rules
    (about_Quoting_Rules: any of ' U+2018-U+201B opens and closes; two in a row are one), and
    the text outside them."""
    literals: list[str] = []
    outside: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in files.POWERSHELL_QUOTES:
            value: list[str] = []
            i += 1
            while True:
                assert i < len(text), "unterminated string"
                if text[i] in files.POWERSHELL_QUOTES:
                    if i + 1 < len(text) and text[i + 1] in files.POWERSHELL_QUOTES:
                        value.append(text[i])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(text[i])
                i += 1
            literals.append("".join(value))
            outside.append("'S'")
        else:
            outside.append(ch)
            i += 1
    return literals, "".join(outside)


@pytest.mark.parametrize("value", HOSTILE)
def test_powershell_keeps_every_value_a_string(value: str) -> None:
    script = windows.render_firstboot(hostile_client(value))
    literals, outside = powershell_literals(script)
    assert literals[-3:] == [value, value, value]
    assert ("Add-Computer -DomainName 'S' -OUPath 'S' -Credential (Get-Credential 'S') -Force"
            in outside.splitlines())
    assert outside.splitlines()[-2:] == ["Remove-Item -LiteralPath $PSCommandPath -Force",
                                         "Restart-Computer -Force"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_powershell_word_reads_back_as_the_value(value: str) -> None:
    literals, outside = powershell_literals(files.powershell_word(value))
    assert literals == [value] and outside == "'S'"


# Text a template may receive: anything but the control characters the validators refuse
# (XML 1.0 cannot carry most of them at all, escaped or not).
PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")),
                    max_size=40)


@settings(max_examples=200, deadline=None)
@given(PRINTABLE.filter(bool))
def test_any_value_reads_back_from_unattend_xml(value: str) -> None:
    root = ET.fromstring(windows.render_unattend(hostile_client(value), value).encode())
    ns = {"u": "urn:schemas-microsoft-com:unattend"}
    assert root.findtext(".//u:JoinDomain", namespaces=ns) == value
    assert root.findtext(".//u:Credentials/u:Password", namespaces=ns) == value


@settings(max_examples=40, deadline=None)
@given(PRINTABLE)
def test_any_value_is_one_shell_word(value: str) -> None:
    """The shell filter the first-boot script uses: the shell gives back the value whole."""
    word = files.environment().from_string("printf '%s\\0' {{ v | sh }}").render(v=value)
    out = subprocess.run(["sh", "-c", word], capture_output=True, check=True).stdout
    assert out.decode("utf-8", "surrogateescape") == value + "\0"


@pytest.mark.parametrize("value", HOSTILE)
def test_unattend_xml_stays_well_formed(value: str) -> None:
    client = hostile_client(value)
    text = windows.render_unattend(client, join_password=value)
    root = ET.fromstring(text.encode())
    ns = {"u": "urn:schemas-microsoft-com:unattend"}
    identification = root.find(".//u:Identification", ns)
    assert identification is not None
    assert identification.findtext("u:JoinDomain", namespaces=ns) == value
    assert identification.findtext("u:MachineObjectOU", namespaces=ns) == value
    assert identification.findtext("u:Credentials/u:Username", namespaces=ns) == value
    # no value from the clients file inside a comment
    without_password = windows.render_unattend(client)
    ET.fromstring(without_password.encode())
    comments = [c for c in without_password.split("<!--")[1:]]
    assert all(value not in c.split("-->")[0] for c in comments)


@pytest.mark.parametrize("value", HOSTILE)
def test_the_linux_first_boot_script_runs_values_as_words(tmp_path: Path, value: str) -> None:
    """bash -n, then the script itself under stubs: realm receives each value as one argument
    and nothing the value holds is run."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    linux.personalise(root, hostile_client(value))
    script = (root / linux.FIRSTBOOT_SCRIPT).read_text()
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    stubs = tmp_path / "bin"
    stubs.mkdir()
    record = tmp_path / "realm.args"
    for name, body in (("realm", f'for a in "$@"; do printf "%s\\0" "$a"; done > {record}\n'),
                       ("ssh-keygen", ""), ("rm", ""), ("touch", f"echo ran >> {tmp_path}/ran\n")):
        (stubs / name).write_text("#!/bin/sh\n" + body)
        (stubs / name).chmod(0o755)
    runnable = script.replace("/dev/console", str(tmp_path / "console"))
    (tmp_path / "console").write_text("")
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}
    result = subprocess.run(["sh", "-c", runnable], env=env, text=True, capture_output=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert record.read_text().split("\0")[:-1] == [
        "join", f"--user={value}", f"--computer-ou={value}", value]
    assert not (tmp_path / "ran").exists() and not Path("/tmp/oscar-pwned").exists()
    for line in script.splitlines():
        if line.lstrip().startswith("#"):
            assert not any(payload in line for payload in ("touch", "$(", "Remove-Item", "<!--"))


@pytest.mark.parametrize("value", HOSTILE)
def test_the_validators_refuse_what_the_templates_must_survive(value: str) -> None:
    text = ("clients:\n  - " + json.dumps({"mac": "52:54:00:12:00:01", "hostname": "PC01",
                                           "domain": "college.local", "join_user": value,
                                           "ou": value}) + "\n")
    room, problems = clients_file.parse(text, "room.yaml")
    assert problems and not room.clients


# -- the last line of defence ---------------------------------------------------------------
def test_an_unexpected_error_is_one_line_and_the_log(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(probe, "probe_all", broken)
    code = cli.main(["probe"])
    err = capsys.readouterr().err
    assert code == cli.INTERNAL_ERROR
    assert "Traceback" not in err and "internal error (RuntimeError)" in err
    assert len([x for x in err.splitlines() if x.startswith(("oscar:", "hint:"))]) == 2
    log_text = Path(err.split("see ")[1].split()[0].rstrip(",")).read_text()
    assert "RuntimeError: a defect" in log_text and "Traceback" in log_text


@pytest.mark.parametrize("args,words", [
    (["save", "--disk", "x", "--store", "/tmp", "--name", "n", "--level", "99"], "1 to 19"),
    (["save", "--disk", "x", "--store", "/tmp", "--name", "n", "--level", "-5"], "1 to 19"),
    (["deploy", "send", "--procedure", "restaure", "--store", "/tmp", "--name", "n",
      "--max-wait", "-1"], "1 to 86400"),
    (["deploy", "send", "--procedure", "restaure", "--store", "/tmp", "--name", "n",
      "--clients", "0"], "1 to 1000"),
])
def test_numbers_out_of_range_are_refused_by_the_parser(args: list[str], words: str) -> None:
    result = oscar(*args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert "command line interface" not in result.stderr  # zstd's own usage text


def test_gzip_levels_and_names_with_a_newline(tmp_path: Path) -> None:
    result = oscar("save", "--disk", "x", "--store", str(tmp_path), "--name", "n",
                   "--compress", "gzip", "--level", "12")
    assert result.returncode == 2 and "does not exist for gzip" in result.stderr
    result = oscar("save", "--disk", "x", "--store", str(tmp_path), "--name", "salle12\n")
    assert result.returncode == 2 and "not a valid backup name" in result.stderr


def test_probe_with_a_missing_store_says_so() -> None:
    result = oscar("probe", "--store", "/nonexistent-oscar-store")
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_menu_shows_an_error_screen_and_goes_on() -> None:
    import urwid

    from oscar.ui.tui import widgets
    from oscar.ui.tui.app import App, Screen

    app = App(headless=True)

    def boom() -> None:
        raise RuntimeError("a defect in a menu action")

    app.push(Screen("OSCAR", widgets.text_screen("home", [("Go", boom)])))
    app.press("enter")
    screen = app.screen_text().replace("\n", " ")
    assert "Internal error (RuntimeError)" in screen and "the menu goes on" in screen
    app.press("enter")  # OK
    assert "home" in app.screen_text()
    assert isinstance(app.frame, urwid.Frame)


def test_messages_show_no_control_characters() -> None:
    assert safetext.shown("a\x1b[2Jb\nc") == "a\\x1b[2Jb\\nc"
    assert len(safetext.shown("x" * 500)) == 80
