"""Deployment's pure parts: the session framing, the procedures, the room, the report, the
beacon, argv builders and parsers."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from oscar.backups import checksums
from oscar.backups.manifest import Manifest, PartEntry
from oscar.core.errors import BackupInvalid, UsageError
from oscar.engine import lighttpd, mkfs, netinfo, udpcast
from oscar.net.deploy import beacon, procedures, stream
from oscar.net.deploy.report import Report, render_table
from oscar.net.deploy.room import LOST_AFTER, Room
from oscar.net.deploy.sources import Counter, StreamSource

pytestmark = pytest.mark.unit


def _manifest() -> Manifest:
    parts = [
        PartEntry(1, "sda1", 1 << 20, 400 << 20, "ntfs", "Windows", "AB", None, "data",
                  "ntfsclone", "zstd", ["sda1.ntfs-img.zst"]),
        PartEntry(2, "sda2", 401 << 20, 200 << 20, "ext4", "Linux", "u2", None, "data",
                  "partclone", "zstd", ["sda2.ext4-ptcl-img.zst.aa", "sda2.ext4-ptcl-img.zst.ab"]),
        PartEntry(3, "sda3", 601 << 20, 40 << 20, "swap", "swap", "u3", None, "swap",
                  files=["swappt-sda3.info"]),
        PartEntry(4, "sda4", 641 << 20, 300 << 20, "ext4", "OSCAR", "u4", None, "store"),
    ]
    return Manifest("salle1", "2026-11-27T08:00:00", "pc", {"name": "sda"},
                    ["sda-pt.sf", "sda-mbr"], parts, {}, "1")


def test_procedures_send_what_each_needs_in_write_order() -> None:
    man = _manifest()
    images = ["sda1.ntfs-img.zst", "sda2.ext4-ptcl-img.zst.aa", "sda2.ext4-ptcl-img.zst.ab"]
    for name in ("restaure", "simple", "formate", "complète", "petite", "disque"):
        assert procedures.files_to_send(man, procedures.get(name)) == images, name
    assert procedures.files_to_send(man, procedures.get("table")) == []
    assert procedures.small_files(man) == ["oscar-manifest.json", "B2SUMS", "sda-pt.sf",
                                           "sda-mbr", "swappt-sda3.info"]
    assert procedures.get("complète") is procedures.get("complete")
    assert procedures.get("comple\u0300te").name == "complete"  # decomposed accent
    table = procedures.get("table")
    assert table.with_table and table.format_only and not table.restore
    with pytest.raises(UsageError, match="not a deployment procedure"):
        procedures.get("everything")


def test_session_stream_round_trip_and_names_in_band(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 3_000_000)
    (tmp_path / "b").write_bytes(b"")
    header = {"session": "s1", "backup": "salle1"}
    data = b"".join(stream.write(header, tmp_path, ["a", "b"]))
    reader = stream.Reader(io.BytesIO(data))
    assert reader.header() == header
    member = reader.next_member()
    assert member == stream.Member("a", 3_000_000)
    with pytest.raises(BackupInvalid, match="not read to its end"):
        reader.next_member()
    assert b"".join(reader.chunks()) == b"x" * 3_000_000
    assert reader.next_member() == stream.Member("b", 0)
    assert reader.next_member() is None


@pytest.mark.parametrize("data,why", [
    (b"GARBAGE-STREAM/1\n", "not an OSCAR deployment"),
    (stream.MAGIC + b"H" + (1 << 30).to_bytes(4, "big"), "unexpected record"),
    (stream.MAGIC + b"Z" + (2).to_bytes(4, "big") + b"{}", "unexpected record"),
    (stream.MAGIC + b"H" + (5).to_bytes(4, "big") + b"{\"a\"", "ended early"),
])
def test_a_crafted_or_cut_stream_is_refused_without_allocating(data: bytes, why: str) -> None:
    with pytest.raises(BackupInvalid, match=why):
        stream.Reader(io.BytesIO(data)).header()


def test_a_cut_member_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"y" * 100_000)
    data = b"".join(stream.write({}, tmp_path, ["a"]))
    reader = stream.Reader(io.BytesIO(data[:-5_000]))
    reader.header()
    assert reader.next_member() is not None
    with pytest.raises(BackupInvalid, match="ended early"):
        b"".join(reader.chunks())


class _Members:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def open(self, name: str, size: int) -> object:
        return iter([self.files[name][:size // 2], self.files[name][size // 2:]])


def test_every_received_image_is_checked_at_its_end(tmp_path: Path) -> None:
    good, bad = b"good" * 1000, b"good" * 999 + b"evil"
    digest = checksums.new_hash()
    digest.update(good)
    sums = {"img": digest.hexdigest()}
    counter = Counter(len(good))
    ok = StreamSource(tmp_path, sums, {"img": len(good)}, _Members({"img": good}), counter)
    assert b"".join(ok.chunks(["img"])) == good
    assert counter.fraction == 1.0 and counter.rate > 0
    damaged = StreamSource(tmp_path, sums, {"img": len(bad)}, _Members({"img": bad}),
                           Counter(len(bad)))
    chunks = damaged.chunks(["img"])
    first = next(chunks)  # data is handed on before the end: the error comes at the end
    assert first == bad[:len(bad) // 2]
    with pytest.raises(BackupInvalid, match="arrived damaged"):
        list(chunks)


def test_room_registers_reports_and_marks_the_silent_lost() -> None:
    room = Room()
    room.register("aa:01", "10.0.0.2", "multicast")
    room.register("aa:02", "10.0.0.3", "multicast")
    assert room.report("aa:01", {"state": "receiving", "percent": 40.0, "rate": 2e7})
    assert not room.report("zz:99", {"state": "done"})
    room.report("aa:02", {"state": "failed", "error": "stream broke"})
    room.report("aa:02", {"state": "receiving"})  # a final state stays final
    assert room.count("failed") == 1
    lost = room.mark_lost(time.time() + LOST_AFTER + 1)
    assert [c.mac for c in lost] == ["aa:01"]
    again = room.register("aa:02", "10.0.0.3", "http")  # the rebooted client catches up
    assert again.attempts == 2
    assert again.history == [{"result": "failed", "during": "failed", "error": "stream broke"}]
    assert again.state == "registered"
    room.report("aa:02", {"state": "writing"})
    third = room.register("aa:02", "10.0.0.3", "http")  # killed while writing, came back
    assert third.attempts == 3
    assert third.history[-1] == {"result": "interrupted", "during": "writing", "error": ""}


def test_table_and_report_render() -> None:
    room = Room()
    room.register("aa:bb:cc:dd:ee:01", "10.0.0.2", "multicast")
    room.report("aa:bb:cc:dd:ee:01", {"state": "receiving", "percent": 52.5, "rate": 31e6})
    table = render_table(room.snapshot(), "Multicast: 52 % sent")
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "aa:bb:cc:dd:ee:01 10.0.0.2" in table and "52.5" in table and "31.0" in table
    room.report("aa:bb:cc:dd:ee:01", {"state": "done"})
    report = Report("s1", "salle1", "simple", "multicast", "t0", "t1", 10,
                    room.snapshot())
    assert report.succeeded == 1
    data = json.loads(report.to_json())
    assert data["clients"][0]["result"] == "done" and data["clients"][0]["mac"].endswith("01")
    assert "| aa:bb:cc:dd:ee:01 | 10.0.0.2 | done | multicast |" in report.to_markdown()
    assert "| 1 |" in report.to_markdown()  # one attempt, nothing earlier
    assert "(no client yet)" in render_table([])


def test_the_french_report_speaks_french(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's words come from the same catalogue as the live table."""
    from oscar.core import i18n

    monkeypatch.setenv("OSCAR_LANG", "fr")
    i18n.reset()
    try:
        room = Room()
        room.register("aa:bb:cc:dd:ee:01", "10.0.0.2", "multicast")
        room.report("aa:bb:cc:dd:ee:01", {"state": "writing"})
        room.register("aa:bb:cc:dd:ee:01", "10.0.0.2", "http")
        room.report("aa:bb:cc:dd:ee:01", {"state": "done"})
        room.register("aa:bb:cc:dd:ee:02", "10.0.0.3", "multicast")
        room.report("aa:bb:cc:dd:ee:02", {"state": "refused", "error": "disque trop petit"})
        markdown = Report("s1", "salle1", "formate", "multicast", "t0", "t1", 10,
                          room.snapshot()).to_markdown()
        assert "| terminé |" in markdown and "| refusé |" in markdown, markdown
        assert "| done |" not in markdown and "| refused |" not in markdown
        assert "2 — 1 : interrompu pendant écriture" in markdown, markdown
        assert render_table(room.snapshot()).count("terminé") == 1
    finally:
        monkeypatch.setenv("OSCAR_LANG", "en")
        i18n.reset()


def test_beacon_payload_round_trip_and_noise_ignored() -> None:
    data = beacon.payload("http://10.0.0.1:7171", "s1")
    assert beacon.parse(data) == ("http://10.0.0.1:7171", "s1")
    assert beacon.parse(b"not json") is None
    assert beacon.parse(json.dumps({"kind": "other"}).encode()) is None


def test_udpcast_argv() -> None:
    argv = udpcast.sender_argv("eth0", 9000, 3, 30, max_bitrate="500m")
    assert argv[:2] == ["udp-sender", "--nokbd"]
    assert argv[argv.index("--min-receivers") + 1] == "3"
    assert argv[argv.index("--retries-until-drop") + 1] == str(udpcast.RETRIES_UNTIL_DROP)
    assert argv[-2:] == ["--max-bitrate", "500m"]
    receiver = udpcast.receiver_argv("eth0", 9000, 420, 60)
    assert "--receive-timeout" in receiver and "--start-timeout" in receiver
    assert udpcast.connection("New connection from 10.77.0.3  (#1) 00000009") == (
        "10.77.0.3", 1)
    assert udpcast.dropped_number("Dropping client #2 because of timeout") == 2
    assert udpcast.dropped_number("Transfer complete.") is None


def test_ip_json_parse() -> None:
    text = json.dumps([
        {"ifname": "lo", "flags": ["LOOPBACK", "UP"], "address": "00:00:00:00:00:00",
         "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
        {"ifname": "eth0", "flags": ["BROADCAST", "UP", "LOWER_UP"],
         "address": "52:54:00:12:34:56", "addr_info": [
             {"family": "inet6", "local": "fe80::1"},
             {"family": "inet", "local": "10.0.0.2", "broadcast": "10.0.0.255"}]},
        {"ifname": "eth1", "flags": ["BROADCAST"], "address": "52:54:00:12:34:57",
         "addr_info": []}])
    found = {i.name: i for i in netinfo.parse_ip_json(text)}
    assert found["eth0"] == netinfo.Interface("eth0", "52:54:00:12:34:56", "10.0.0.2",
                                              "10.0.0.255", True)
    assert found["eth1"].address is None and not found["eth1"].up


def test_lighttpd_config_serves_the_store_read_only(tmp_path: Path) -> None:
    text = lighttpd.render_config(Path("/mnt/store"), "10.0.0.1", 7172, tmp_path / "p",
                                  tmp_path / "e")
    assert 'server.document-root = "/mnt/store"' in text
    assert 'server.bind = "10.0.0.1"' in text and "server.port = 7172" in text
    assert 'dir-listing.activate = "disable"' in text
    assert "url.access-deny" in text  # hidden folders (partial backups) are never served


def test_mkfs_argv_keeps_labels_and_uuids() -> None:
    assert mkfs.mkfs_argv("ext4", "/dev/sdb2", label="Linux", uuid="u-1") == [
        "mkfs.ext4", "-q", "-F", "-L", "Linux", "-U", "u-1", "/dev/sdb2"]
    ntfs = mkfs.mkfs_argv("ntfs", "/dev/sdb1", label="Windows", uuid=None, start_sector=2048)
    assert ntfs[:5] == ["mkfs.ntfs", "-Q", "-F", "-L", "Windows"] and "2048" in ntfs
    assert mkfs.mkfs_argv("vfat", "/dev/sdb5", label="EFI", uuid="1A2B-3C4D")[-3:] == [
        "-i", "1A2B3C4D", "/dev/sdb5"]
    with pytest.raises(UsageError, match="cannot format"):
        mkfs.mkfs_argv("hfsplus", "/dev/sdb1", label=None, uuid=None)
