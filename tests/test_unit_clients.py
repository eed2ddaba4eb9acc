"""OSCAR_déploie's clients file: YAML and CSV, every bad line reported with its number."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.core.errors import UsageError
from oscar.ops.personalise import clients

pytestmark = pytest.mark.unit

GOOD_YAML = """\
defaults:
  prefix: 24
  gateway: 10.0.12.254
  dns: [10.0.0.10, 10.0.0.11]
  workgroup: SALLE12
clients:
  - mac: "52:54:00:12:00:01"
    hostname: S12-PC01
    ip: 10.0.12.101
    product_key: ABCDE-12345-FGHIJ-67890-KLMNO
  - {mac: "52-54-00-12-00-02", hostname: S12-PC02, ip: dhcp}
  - mac: "52:54:00:12:00:03"
    hostname: S12-PC03
    ip: 10.0.12.103/24
    workgroup: null
    domain: college.local
    ou: "OU=Salle12,DC=college,DC=local"
    join_user: joinpc
"""


def test_yaml_with_defaults() -> None:
    parsed, problems = clients.parse(GOOD_YAML, "salle12.yaml")
    assert problems == []
    one, two, three = parsed.clients
    assert (one.line, one.mac, one.hostname) == (7, "52:54:00:12:00:01", "S12-PC01")
    assert one.network is not None and str(one.network.address) == "10.0.12.101/24"
    assert str(one.network.gateway) == "10.0.12.254"
    assert [str(d) for d in one.network.dns] == ["10.0.0.10", "10.0.0.11"]
    assert one.workgroup == "SALLE12" and one.product_key == "ABCDE-12345-FGHIJ-67890-KLMNO"
    assert two.mac == "52:54:00:12:00:02" and two.network is None  # DHCP
    assert three.domain == "college.local" and three.workgroup is None
    assert three.join_user == "joinpc" and three.ou == "OU=Salle12,DC=college,DC=local"
    assert parsed.for_mac("52-54-00-12-00-03") == three and parsed.for_mac("00:11:22:33:44:55") is None


def test_csv_the_same_room() -> None:
    text = ("mac,hostname,ip,prefix,gateway,dns,product_key,domain,ou,join_user,workgroup\n"
            "52:54:00:12:00:01,S12-PC01,10.0.12.101,24,10.0.12.254,10.0.0.10 10.0.0.11,,,,,SALLE12\n"
            "52:54:00:12:00:02,S12-PC02,dhcp,,,,,,,,SALLE12\n")
    parsed, problems = clients.parse(text, "salle12.csv")
    assert problems == []
    one, two = parsed.clients
    assert one.line == 2 and two.line == 3
    assert one.network is not None and len(one.network.dns) == 2 and two.network is None


def test_every_bad_line_is_reported_with_its_number() -> None:
    text = """\
defaults: {prefix: 24, gateway: 10.0.12.254}
clients:
  - {mac: "52:54:00:12:00:01", hostname: S12-PC01, ip: 10.0.12.101}
  - {mac: "52:54:00:12:00:01", hostname: S12-PC02, ip: 10.0.12.102}
  - {mac: "52:54:00:12:00:03", hostname: s12-pc01, ip: 10.0.12.103}
  - {mac: "52:54:00:12:00:04", hostname: S12-PC04, ip: 10.0.12.101}
  - {mac: "52:54:00:12:00:05", hostname: S12-POSTE-PROFESSEUR, ip: 10.0.12.105}
  - {mac: "52:54:00:12:00:06", hostname: "12345", ip: 10.0.12.106}
  - {mac: "52:54:00:12:00:07", hostname: S12-PC07, ip: 10.0.13.107}
  - {mac: "52:54:00:12:00", hostname: S12-PC08, ip: 10.0.12.108}
  - {mac: "52:54:00:12:00:09", hostname: S12-PC09, ip: 10.0.12.109, product_key: 1234}
  - {mac: "52:54:00:12:00:10", hostname: S12-PC10, ip: 10.0.12.110, domain: college.local, workgroup: W}
  - {mac: "52:54:00:12:00:11", hostname: S12-PC11, ip: 10.0.12.111, domain: college.local}
  - {mac: "52:54:00:12:00:12", hostname: -PC12, ip: 10.0.12.255}
  - {mac: "52:54:00:12:00:13", hostname: S12-PC13, ip: 10.0.12.113, colour: blue}
"""
    parsed, problems = clients.parse(text, "room.yaml")
    by_line: dict[int, list[str]] = {}
    for problem in problems:
        by_line.setdefault(problem.line, []).append(problem.message)
    assert "MAC address 52:54:00:12:00:01 is already on line 3" in by_line[4]
    assert "hostname s12-pc01 is already on line 3" in by_line[5]
    assert "address 10.0.12.101 is already on line 3" in by_line[6]
    assert "not a name Windows accepts" in by_line[7][0]  # 20 characters
    assert "not a name Windows accepts" in by_line[8][0]  # only digits
    assert "the gateway 10.0.12.254 is outside 10.0.13.0/24" in by_line[9]
    assert "is not a MAC address" in by_line[10][0]
    assert "is not a product key" in by_line[11][0]
    assert "a PC joins a domain or a workgroup, not both" in by_line[12]
    assert "needs join_user" in by_line[13][0]
    assert any("not a name Windows accepts" in m for m in by_line[14])
    assert any("broadcast" in m for m in by_line[14])
    assert "unknown field: colour" in by_line[15]
    assert set(by_line) == {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
    # each line is judged alone first; duplicates are between lines, and refuse the file
    assert [c.line for c in parsed.clients] == [3, 4, 5, 6]
    assert str(problems[0]).startswith("line 4: ")


@pytest.mark.parametrize("text,line,message", [
    ("clients: [\n", 2, "not valid YAML"),
    ("- a\n- b\n", 1, "must hold 'clients:'"),
    ("clients: {mac: x}\n", 1, "must be a list"),
    ("clients: []\nrooms: 3\n", 1, "unknown section: rooms"),
    ("clients:\n  - just text\n", 2, "must be a mapping"),
    ("hostname,ip\nPC1,dhcp\n", 1, "must name the columns"),
    ("clients: []\n", 1, "no client in the file"),
    ("mac,hostname,ip\n52:54:00:12:00:01,PC1,10.0.12.9\n", 2, "give its prefix"),
    ("mac,hostname,ip,speed\n52:54:00:12:00:01,PC1,dhcp,fast\n", 1, "unknown column: speed"),
])
def test_malformed_files(text: str, line: int, message: str) -> None:
    path = "room.csv" if text.startswith(("hostname", "mac")) else "room.yaml"
    _parsed, problems = clients.parse(text, path)
    assert any(p.line == line and message in p.message for p in problems), problems


def test_load_refuses_with_every_problem_and_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "salle.csv"
    path.write_text("mac,hostname,ip\n52:54:00:12:00:01,PC1,dhcp\n52:54:00:12:00:01,PC2,dhcp\n"
                    "zz,PC3,dhcp\n")
    with pytest.raises(UsageError) as refused:
        clients.load(path)
    assert "has 2 problems:" in refused.value.message
    assert "line 3: MAC address 52:54:00:12:00:01 is already on line 2" in refused.value.message
    assert "line 4: 'zz' is not a MAC address" in refused.value.message
    assert "nothing was written" in (refused.value.hint or "")
    with pytest.raises(UsageError):
        clients.load(tmp_path / "missing.yaml")
    path.write_text("mac,hostname,ip\n52:54:00:12:00:01,PC1,dhcp\n")
    assert [c.hostname for c in clients.load(path).clients] == ["PC1"]


def test_template_from_a_deployment_report_is_a_valid_clients_file() -> None:
    report = {"session": "abc", "backup": "salle12", "clients": [
        {"mac": "52:54:00:12:00:02"}, {"mac": "52-54-00-12-00-01"}, {"mac": "52:54:00:12:00:02"},
        {"mac": "junk"}]}
    text = clients.template_from_report(report)
    assert text.startswith("# OSCAR_déploie clients file, from the deployment abc of salle12.")
    parsed, problems = clients.parse(text, "salle12.yaml")
    assert problems == []
    assert [(c.mac, c.hostname, c.network) for c in parsed.clients] == [
        ("52:54:00:12:00:02", "PC01", None), ("52:54:00:12:00:01", "PC02", None)]
    with pytest.raises(UsageError):
        clients.template_from_report({"clients": []})


def test_the_deployment_report_says_who_was_personalised() -> None:
    from oscar.net.deploy.report import Report
    from oscar.net.deploy.room import NO_LINE, Room

    room = Room()
    for mac in ("52:54:00:12:00:01", "52:54:00:12:00:02"):
        room.register(mac, "10.0.12.9", "multicast")
    room.report("52:54:00:12:00:01", {"state": "done", "personalised": "S12-PC01"})
    room.report("52:54:00:12:00:02", {"state": "done", "personalised": NO_LINE})
    report = Report("s", "salle12", "formate", "multicast", "t", "t", 0, room.snapshot(),
                    personalising=True)
    text = report.to_markdown()
    assert "- personalised: 1/2" in text
    assert "- no line in the clients file: 52:54:00:12:00:02" in text
    assert "| S12-PC01 |" in text and "| no line |" in text
    data = report.to_dict()
    assert [(c["personalised"], c["no_line"]) for c in data["clients"]] == [
        ("S12-PC01", False), (None, True)]
    plain = Report("s", "salle12", "formate", "multicast", "t", "t", 0, room.snapshot())
    assert "no line in the clients file" not in plain.to_markdown()
