"""Pure code on device models built by hand: partition selection, target checks, plans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oscar.backups import checksums, store
from oscar.backups.manifest import Manifest, PartEntry
from oscar.backups.store import check_name
from oscar.core.errors import BackupInvalid, TargetRefused, UsageError
from oscar.core.progress import render_line
from oscar.disks.devices import Disk, Partition, human_size, partition_path
from oscar.ops.restore.planner import check_target, selected_entries
from oscar.ops.save import SaveOptions, auto_method, select_partitions

pytestmark = pytest.mark.unit
GB = 1_000_000_000


def model_disk(path: str = "/dev/sda", *, mounted: int | None = None) -> Disk:
    def part(n: int, start: int, size: int, fs: str | None, label: str | None) -> Partition:
        return Partition(partition_path(path, n), n, start, size, fs, label,
                         in_use=(n == mounted), used=size // 4)
    return Disk(path, 100 * GB, serial="S123", model="Disk X", pttype="dos", ptuuid="abcd",
                partitions=[part(1, 1 << 20, 40 * GB, "ntfs", "Windows"),
                            part(2, 41 * GB, 20 * GB, "ext4", "Linux"),
                            part(3, 61 * GB, 2 * GB, "swap", "swap"),
                            part(4, 63 * GB, 30 * GB, "ext4", "OSCAR"),
                            part(5, 93 * GB, 1 * GB, None, None)])


def test_partition_naming() -> None:
    assert partition_path("/dev/sda", 1) == "/dev/sda1"
    assert partition_path("/dev/nvme0n1", 2) == "/dev/nvme0n1p2"
    assert partition_path("/dev/loop3", 4) == "/dev/loop3p4"
    assert partition_path("/dev/mmcblk0", 1) == "/dev/mmcblk0p1"


def test_identity_prefers_stable_names() -> None:
    assert Disk("/dev/sda", 1, wwn="0x5000", serial="S").identity == "wwn:0x5000"
    assert Disk("/dev/sdb", 1, serial="S1", model="WDC  Blue").identity == "serial:WDC_Blue_S1"
    assert Disk("/dev/loop2", 1, backing_file="/l/m.img").identity == "loop:/l/m.img"
    assert Disk("/dev/vdb", 1, ptuuid="1234").identity == "ptuuid:1234"
    assert human_size(1_500_000_000) == "1.5 GB"


def test_default_selection_skips_store_swap_and_unknown() -> None:
    entries = select_partitions(model_disk(), {"sda4"}, SaveOptions("n"))
    roles = {e.number: (e.role, e.method) for e in entries}
    assert roles == {1: ("data", "ntfsclone"), 2: ("data", "partclone"), 3: ("swap", None),
                     4: ("store", None), 5: ("skipped", None)}


def test_selection_refusals() -> None:
    with pytest.raises(TargetRefused, match="holds the backup"):
        select_partitions(model_disk(), {"sda4"}, SaveOptions("n", parts=[4]))
    with pytest.raises(UsageError, match="does not exist"):
        select_partitions(model_disk(), set(), SaveOptions("n", parts=[9]))
    with pytest.raises(UsageError) as unknown:
        select_partitions(model_disk(), set(), SaveOptions("n", parts=[5]))
    assert "--method raw" in unknown.value.hint
    with pytest.raises(TargetRefused, match="mounted"):
        select_partitions(model_disk(mounted=2), set(), SaveOptions("n"))
    with pytest.raises(UsageError, match="ntfsclone"):
        select_partitions(model_disk(), set(), SaveOptions("n", parts=[2], method="ntfsclone"))
    raw = select_partitions(model_disk(), set(), SaveOptions("n", parts=[5], method="raw"))
    assert [(e.number, e.method) for e in raw if e.role == "data"] == [(5, "raw")]


def test_auto_method_reasons() -> None:
    assert auto_method("ntfs")[0] == "ntfsclone"
    assert auto_method("ext4")[0] == "partclone"
    assert auto_method("reiserfs")[0] == "fsarchiver"


def manifest_for(disk: Disk) -> Manifest:
    parts = select_partitions(disk, {"sda4"}, SaveOptions("n"))
    return Manifest("n", "2026-01-01T00:00:00", "pc", {"name": "sda"}, [], parts, {}, "0")


def test_check_target_refusals() -> None:
    source = model_disk()
    man = manifest_for(source)
    entries = selected_entries(man, None)
    boot = model_disk("/dev/sdb")
    boot.is_boot_medium = True
    with pytest.raises(TargetRefused, match="started from"):
        check_target(boot, man, entries, False, set(), None)
    small = model_disk("/dev/sdc")
    small.partitions[1].size = GB
    with pytest.raises(TargetRefused, match="too small"):
        check_target(small, man, entries, False, set(), None)
    with pytest.raises(TargetRefused, match="mounted"):
        check_target(model_disk("/dev/sdd", mounted=1), man, entries, False, set(), None)
    with pytest.raises(TargetRefused, match="holds the backups"):
        bad = PartEntry(4, "sda4", 63 * GB, 30 * GB, "ext4", "OSCAR", None, None, "data",
                        "partclone", "zstd", ["x"])
        check_target(model_disk("/dev/sde"), man, [bad], False, {"sde4"}, None)
    blank = Disk("/dev/sdf", 100 * GB)
    with pytest.raises(TargetRefused) as no_table:
        check_target(blank, man, entries, False, set(), None)
    assert "--with-table" in no_table.value.hint
    check_target(model_disk("/dev/sdg"), man, entries, False, {"sdg4"}, None)
    with pytest.raises(UsageError):
        selected_entries(man, [3])  # swap is recorded, not restorable


def test_checksum_file_parsing() -> None:
    line = "a" * 128 + "  sda1.ntfs-img.zst\n"
    assert checksums.parse(line) == {"sda1.ntfs-img.zst": "a" * 128}
    with pytest.raises(BackupInvalid):
        checksums.parse("deadbeef  x\n")
    with pytest.raises(BackupInvalid, match="outside"):
        checksums.parse("b" * 128 + "  ../etc/passwd\n")


def test_checksums_read_requires_file(tmp_path: Path) -> None:
    with pytest.raises(BackupInvalid, match="missing"):
        checksums.read(tmp_path)
    (tmp_path / "B2SUMS").write_text("")
    with pytest.raises(BackupInvalid, match="empty"):
        checksums.read(tmp_path)


def test_backup_names() -> None:
    assert check_name("2026-11-26_PC-MODELE") == "2026-11-26_PC-MODELE"
    for bad in ("", ".hidden", "a/b", "../x", "x" * 200):
        with pytest.raises(UsageError):
            check_name(bad)


def test_progress_line() -> None:
    line = render_line("partition 1 (ntfs)", 0.5, 1_000_000_000, 10.0)
    assert "50.0%" in line and "50.0 MB/s" in line and "0:00:10 / 0:00:10" in line


def test_tools_named_before_work_starts() -> None:
    from oscar.backups.methods import tools_for

    def entry(fs: str, method: str, comp: str | None) -> PartEntry:
        return PartEntry(1, "sda1", 0, GB, fs, None, None, None, "data", method, comp, ["x"])

    assert tools_for(entry("ntfs", "ntfsclone", "zstd"), saving=True) == [
        "ntfsclone", "ntfs-3g.probe", "ntfsinfo", "zstd"]
    assert tools_for(entry("ntfs", "partclone", "gzip"), saving=False) == ["partclone.ntfs", "pigz"]
    assert tools_for(entry("ext4", "fsarchiver", None), saving=True) == ["fsarchiver"]
    assert tools_for(entry("xyz", "raw", "none"), saving=True) == ["partclone.dd"]


def _sink(tmp_path: Path, name: str) -> tuple[store.PartialBackup, store.ImageSink]:
    backup = store.PartialBackup(store.Store(tmp_path), "b", tmp_path)
    sink = backup.open_sink(name)
    sink.VERIFY_STEP = 1 << 20  # several read-back ranges for a few MiB
    return backup, sink


def test_image_sink_reads_back_what_it_wrote(tmp_path: Path) -> None:
    backup, sink = _sink(tmp_path, "img")
    data = os.urandom(5 << 20)
    for i in range(0, len(data), 300_000):
        sink(data[i:i + 300_000])
    sink.close()
    assert (tmp_path / "img").read_bytes() == data
    assert backup.sums["img"] == checksums.hash_file(tmp_path / "img") and "img" in backup.read_back


def test_image_sink_refuses_a_disk_that_returns_other_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The disk gives back one flipped bit in the third MiB (what a failing disk or cable does).
    def flaky(fd: int, size: int, offset: int) -> bytes:
        block = bytearray(os.pread(fd, size, offset))
        if offset <= (2 << 20) < offset + len(block):
            block[(2 << 20) - offset] ^= 1
        return bytes(block)

    monkeypatch.setattr(store, "_read_block", flaky)
    backup, sink = _sink(tmp_path, "img")
    sink(os.urandom(4 << 20))
    with pytest.raises(BackupInvalid, match="differs on the disk"):
        sink.close()
    assert "img" not in backup.sums
