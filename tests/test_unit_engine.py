"""Pure code: argv builders, parsers (on recorded real output), header checks."""

from __future__ import annotations

import datetime
import logging
import struct
import zlib
from pathlib import Path

import pytest

from oscar.core import oplog, run
from oscar.core.errors import BackupInvalid, CommandFailed, TargetRefused
from oscar.disks.probe import (
    parse_blkid_export,
    parse_dumpe2fs_used,
    parse_ntfsresize_used,
    parse_sfdisk_json,
)
from oscar.engine import compress, fsarchiver, imagehdr, ntfs, ntfsclone, partclone, ptable, scratch

pytestmark = pytest.mark.unit

# Recorded from partclone 0.3.23 saving a 200 MiB NTFS partition on this machine.
PARTCLONE_HEAD = bytes.fromhex(
    "7061727463 6c6f6e652d696d61676500 302e332e3233000000000000000030303032dec0"
    "4e5446530000000000000000000000000000800c00000000ffc70000000000007e340000"
    "000000007e3400000000000000100000120000000200400020000400000100000101f4f5a760"
    .replace(" ", ""))
# Recorded from ntfsclone 2022.10.3 on the same partition.
NTFSCLONE_HEAD = bytes.fromhex(
    "006e746673636c6f6e652d696d6167650a01001000000000800c00000000ffc7000000000000"
    "7e340000000000003800000000000000")


def test_partclone_header_parses() -> None:
    info = imagehdr.parse_partclone(PARTCLONE_HEAD)
    assert info.fs == "NTFS"
    assert info.device_size == 209715200
    assert info.block_size == 4096
    assert info.total_blocks == 51199
    assert info.used_blocks == 13438


def _reseal(head: bytearray) -> bytes:
    struct.pack_into("<I", head, 106, zlib.crc32(bytes(head[:106])) ^ 0xFFFFFFFF)
    return bytes(head)


@pytest.mark.parametrize("offset,fmt,value,why", [
    (84, "<I", 0, "block size"),  # zero block size
    (84, "<I", 3000, "block size"),  # not a power of two
    (60, "<Q", 1 << 62, "total blocks"),  # huge count
    (52, "<Q", 0, "device size"),
    (68, "<Q", 1 << 40, "used blocks"),
])
def test_crafted_partclone_header_refused(offset: int, fmt: str, value: int, why: str) -> None:
    head = bytearray(PARTCLONE_HEAD)
    struct.pack_into(fmt, head, offset, value)
    with pytest.raises(BackupInvalid, match=why):
        imagehdr.parse_partclone(_reseal(head))


def test_partclone_header_checksum_checked() -> None:
    head = bytearray(PARTCLONE_HEAD)
    head[60] ^= 1
    with pytest.raises(BackupInvalid, match="checksum"):
        imagehdr.parse_partclone(bytes(head))


def test_truncated_or_foreign_headers_refused() -> None:
    with pytest.raises(BackupInvalid):
        imagehdr.parse_partclone(PARTCLONE_HEAD[:50])
    with pytest.raises(BackupInvalid):
        imagehdr.parse_partclone(b"\0" * 200)
    with pytest.raises(BackupInvalid):
        imagehdr.parse_ntfsclone(PARTCLONE_HEAD)


def test_ntfsclone_header() -> None:
    info = imagehdr.parse_ntfsclone(NTFSCLONE_HEAD)
    assert (info.block_size, info.total_blocks, info.used_blocks) == (4096, 51199, 13438)
    head = bytearray(NTFSCLONE_HEAD)
    struct.pack_into("<I", head, 18, 0)
    with pytest.raises(BackupInvalid, match="block size"):
        imagehdr.parse_ntfsclone(bytes(head))
    head = bytearray(NTFSCLONE_HEAD)
    struct.pack_into("<q", head, 30, 1 << 60)
    with pytest.raises(BackupInvalid):
        imagehdr.parse_ntfsclone(bytes(head))


SF_GPT = """label: gpt
label-id: 9B2F52B3-7C1E-4F43-A0B6-8E7F2C0B1D11
device: /dev/loop3
unit: sectors
first-lba: 2048
last-lba: 2097118
sector-size: 512

/dev/loop3p1 : start=        2048, size=      837632, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=1D3C2A55-0000-4000-8000-000000000001, name="Windows, C:"
/dev/loop3p2 : start=      839680, size=      417792, type=0FC63DAF-8483-4772-8E7D-3D69145F6F11, uuid=1D3C2A55-0000-4000-8000-000000000002, name="Linux"
"""


def test_sf_parse_and_render_for_another_disk() -> None:
    table = ptable.parse_sf(SF_GPT)
    assert table.label == "gpt"
    assert [e.number for e in table.entries] == [1, 2]
    assert table.entries[0].fields["name"] == '"Windows, C:"'
    script = ptable.render_sf(table, "/dev/nvme0n1", keep_last_lba=False)
    assert "/dev/nvme0n1p1 : start=2048, size=837632" in script
    assert "device:" not in script and "last-lba" not in script
    assert 'name="Windows, C:"' in script
    assert "last-lba: 2097118" in ptable.render_sf(table, "/dev/sdb", keep_last_lba=True)
    assert "/dev/sdb2 :" in ptable.render_sf(table, "/dev/sdb", keep_last_lba=True)


def test_check_keeps() -> None:
    table = ptable.parse_sf(SF_GPT)
    ptable.check_keeps(table, [(2, 839680 * 512, 417792 * 512)])
    with pytest.raises(TargetRefused):
        ptable.check_keeps(table, [(2, 839680 * 512, 417791 * 512)])
    with pytest.raises(TargetRefused):
        ptable.check_keeps(table, [(3, 0, 1)])


def test_argv_builders() -> None:
    assert partclone.save_argv("ext4", "/dev/sda2", "/tmp/l")[:6] == [
        "partclone.extfs", "-c", "-a0", "-s", "/dev/sda2", "-o"]
    assert partclone.restore_argv("ntfs", "/dev/sdb1", "/tmp/l")[:6] == [
        "partclone.ntfs", "-r", "-s", "-", "-o", "/dev/sdb1"]
    # A refresh of 1 s: partclone's runs last a multiple of it (see partclone.UI_REFRESH).
    for argv in (partclone.save_argv("ext4", "/dev/sda2", "/tmp/l"),
                 partclone.restore_argv("ext4", "/dev/sda2", "/tmp/l"),
                 partclone.check_argv("/tmp/l")):
        assert argv[argv.index("-f") + 1] == "1"
    assert partclone.image_name("sda2", "ext4", "zst") == "sda2.ext4-ptcl-img.zst"
    assert partclone.image_name("sda5", "raw", "gz") == "sda5.dd-ptcl-img.gz"
    assert ntfsclone.save_argv("/dev/sda1") == ["ntfsclone", "--save-image", "--output", "-",
                                                "/dev/sda1"]
    assert "--force" not in ntfsclone.save_argv("/dev/sda1")
    assert ntfsclone.image_name("nvme0n1p3") == "nvme0n1p3.ntfs-img"
    argv = fsarchiver.save_argv("/dev/sda2", "/s/sda2.fsa", "zstd")
    assert argv[:2] == ["fsarchiver", "savefs"] and "-Z3" in argv and argv[-2:] == [
        "/s/sda2.fsa", "/dev/sda2"]
    assert fsarchiver.restore_argv("/s/a.fsa", "/dev/sdb2")[-1] == "id=0,dest=/dev/sdb2"
    assert compress.compress_argv("zstd") == ["zstd", "-T0", "-3", "-q", "-c"]
    assert compress.compress_argv("none") is None
    assert compress.decompress_argv("gzip") == ["pigz", "-d", "-c"]


def test_progress_parsers() -> None:
    assert partclone.parse_percent("Elapsed: 00:00:01, Remaining: 00:01:39, Completed:   1.00%") == 1.0
    parser = ntfsclone.ProgressParser()
    assert parser(" 50.00 percent completed") is None  # scanning pass
    assert parser("Saving NTFS to image ...") == 0.0
    assert parser(" 42.50 percent completed") == 42.5
    assert fsarchiver.parse_percent("-[00][ 45%][REGFILE ] /doc/x") == 45.0
    assert fsarchiver.parse_percent("Statistics for filesystem 0") is None


def test_probe_parsers() -> None:
    assert parse_blkid_export("DEVNAME=/dev/x\nTYPE=ntfs\nLABEL=Windows\n")["LABEL"] == "Windows"
    assert parse_dumpe2fs_used("Block count:  1000\nFree blocks:  400\nBlock size:  4096\n") == 600 * 4096
    assert parse_ntfsresize_used("Space in use       : 56 MB (26.2%)") == 56_000_000
    label, ident, sector, entries = parse_sfdisk_json(
        '{"partitiontable": {"label": "dos", "id": "0x1", "device": "/dev/sda", "unit": "sectors",'
        ' "sectorsize": 512, "partitions": [{"node": "/dev/sda1", "start": 2048, "size": 10,'
        ' "type": "7"}]}}')
    assert (label, sector, entries[0].number, entries[0].start) == ("dos", 512, 1, 2048)


def test_ntfs_state_messages() -> None:
    assert ntfs.state_error(0, "/dev/sda1") is None
    hibernated = ntfs.state_error(ntfs.HIBERNATED, "/dev/sda1")
    assert hibernated is not None and "hibernated" in hibernated.message
    assert "fast startup" in hibernated.hint
    unclean = ntfs.state_error(ntfs.UNCLEAN, "/dev/sda1")
    assert unclean is not None and "chkdsk" in unclean.hint


def test_raw_mode_has_no_clone_flag() -> None:
    assert "-c" not in partclone.save_argv("raw", "/dev/sda5", "/tmp/l")
    assert "-r" not in partclone.restore_argv("raw", "/dev/sda5", "/tmp/l")
    assert partclone.save_argv("raw", "/dev/sda5", "/tmp/l")[0] == "partclone.dd"


def test_volume_flags_parsed() -> None:
    assert ntfs.parse_volume_flags("\tVolume Flags: 0x0001 DIRTY\n") == 1
    assert ntfs.parse_volume_flags("\tVolume Flags: 0x0000\n") == 0
    assert ntfs.parse_volume_flags("Volume is scheduled for check.") is None


def test_partclone_log_removed_and_summarised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oscar")
    with partclone.logfile() as path:
        Path(path).write_text("Partclone v0.3.23\rElapsed: 00:00:01, Completed: 5%\n"
                              "Cloned successfully.\n")
    assert not Path(path).exists()
    assert "Cloned successfully." in caplog.text and "Elapsed" not in caplog.text


def test_restore_log_falls_back_when_the_backup_refuses_it(tmp_path: Path) -> None:
    backup = tmp_path / "base"
    backup.mkdir()
    when = datetime.datetime(2026, 11, 26, 8, 30, 5)
    first = oplog.restore_log_path(backup, "sda", when, fallbacks=(tmp_path / "var",))
    assert first == backup / "logs" / "restore-20261126-083005-sda.log" and first.exists()
    assert oplog.restore_logs(backup) == [first]
    # A store where logs/ cannot be made (read-only medium; here a file in the way, since the
    # tests run as root and root ignores permissions): the next writable place is used.
    other = tmp_path / "other"
    other.mkdir()
    (other / "logs").write_text("")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    second = oplog.restore_log_path(other, "sdb", when, fallbacks=(blocker / "sub", tmp_path / "var"))
    assert second == tmp_path / "var" / "restore-20261126-083005-sdb.log" and second.exists()
    assert oplog.restore_logs(other) == []
    with pytest.raises(OSError):
        oplog.restore_log_path(other, "sdc", when, fallbacks=(blocker / "sub",))


def test_failure_names_the_problem_line_not_the_last_progress_line() -> None:
    script = ("echo 'oper_restore.c#869,extract(): cannot restore file /a, file is corrupt' >&2; "
              "for i in 1 2 3; do echo '-[00][ 99%][REGFILEM] /etc/hosts' >&2; done; exit 1")
    with pytest.raises(CommandFailed) as caught:
        run.run(["sh", "-c", script])
    assert caught.value.message.endswith("cannot restore file /a, file is corrupt")
    assert caught.value.returncode == 1
    with pytest.raises(CommandFailed) as plain:
        run.run(["sh", "-c", "echo first >&2; echo 'the last words' >&2; exit 2"])
    assert plain.value.message.endswith("the last words")


def test_scratch_folder_needs_room_for_the_data(tmp_path: Path) -> None:
    assert scratch.pick_folder([tmp_path / "missing", tmp_path], 1 << 20) == tmp_path
    assert scratch.pick_folder([tmp_path], 1 << 60) is None
