"""What a PC needs to start, beyond its files (issue 18, first part): the MBR's active flag and
the table's other fields survive parsing, fitting and rendering; Clonezilla's blkid.list
gives its partitions their labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.backups import clonezilla
from oscar.engine import fit, ptable

pytestmark = pytest.mark.unit
MIB = 1 << 20
GIB = 1 << 30
MBR = """label: dos
label-id: 0x1234abcd
device: /dev/sda
unit: sectors
sector-size: 512

/dev/sda1 : start=        2048, size=      837632, type=7, bootable
/dev/sda2 : start=      839680, size=      417792, type=83
/dev/sda3 : start=     1257472, size=       81920, type=82
/dev/sda4 : start=     1339392, size=      757760, type=83
"""
GPT = """label: gpt
label-id: 9B2F52B3-7C1E-4F43-A0B6-8E7F2C0B1D11
device: /dev/nvme0n1
unit: sectors
first-lba: 34
last-lba: 2097118
sector-size: 512

/dev/nvme0n1p1 : start=2048, size=204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0A1B2C3D-0000-4000-8000-000000000001, name="EFI system partition, boot", attrs="RequiredPartition GUID:63"
/dev/nvme0n1p2 : start=206848, size=1048576, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=0A1B2C3D-0000-4000-8000-000000000002, name="Basic data partition"
"""


def test_the_active_flag_is_kept_as_sfdisk_writes_it() -> None:
    table = ptable.parse_sf(MBR)
    assert table.entries[0].fields == {"type": "7", "bootable": ptable.FLAG}
    assert "bootable" not in table.entries[1].fields
    script = ptable.render_sf(table, "/dev/sdb", keep_last_lba=False)
    assert "/dev/sdb1 : start=2048, size=837632, type=7, bootable\n" in script
    assert "label-id: 0x1234abcd" in script and "device:" not in script


def test_gpt_names_guids_and_attributes_come_back_whole() -> None:
    table = ptable.parse_sf(GPT)
    script = ptable.render_sf(table, "/dev/sdb", keep_last_lba=True)
    again = ptable.parse_sf(script)
    assert [e.fields for e in again.entries] == [e.fields for e in table.entries]
    assert again.entries[0].fields["name"] == '"EFI system partition, boot"'
    assert again.entries[0].fields["attrs"] == '"RequiredPartition GUID:63"'
    assert again.header["label-id"] == table.header["label-id"]


@pytest.mark.parametrize("ratio", [0.7, 1.5])
def test_a_fitted_table_keeps_every_field(ratio: float) -> None:
    table = ptable.parse_sf(MBR)
    needs = {1: fit.PartNeed(1, 60 * MIB, True, True), 2: fit.PartNeed(2, 40 * MIB, True, True)}
    fitted = fit.fit(table, source_bytes=GIB, disk_bytes=int(GIB * ratio), sector=512,
                     needs=needs, layout="proportional")
    assert not fitted.same
    assert [e.fields for e in fitted.table.entries] == [e.fields for e in table.entries]
    assert fitted.table.header["label-id"] == "0x1234abcd"
    assert ", bootable" in ptable.render_sf(fitted.table, "/dev/sdb", keep_last_lba=False)


def test_clonezilla_blkid_list_gives_labels(tmp_path: Path) -> None:
    (tmp_path / "blkid.list").write_text(
        '/dev/sda1: LABEL="Windows 10" BLOCK_SIZE="512" UUID="0123456789ABCDEF" TYPE="ntfs" '
        'PARTUUID="1234abcd-01"\n'
        '/dev/sda2: LABEL="say \\"hi\\"" UUID="3d1c7a8e-1111-2222-3333-444455556666" '
        'TYPE="ext4"\n'
        '/dev/sda3: LABEL="bad\x1b[2J" TYPE="swap"\n'
        '/dev/../x: LABEL="outside"\n'
        "not a blkid line\n")
    found = clonezilla.blkid_list(tmp_path)
    assert found["sda1"]["LABEL"] == "Windows 10" and found["sda1"]["UUID"] == "0123456789ABCDEF"
    assert found["sda2"]["LABEL"] == 'say "hi"'
    assert "LABEL" not in found["sda3"]
    assert set(found) == {"sda1", "sda2", "sda3"}


# A Windows PC on an MBR disk: System Reserved (boot manager and BCD), C:, then Linux.
WINDOWS_MBR = """label: dos
label-id: 0x5ca1ab1e
device: /dev/sda
unit: sectors
sector-size: 512

/dev/sda1 : start=        2048, size=      102400, type=7, bootable
/dev/sda2 : start=      104448, size=     1024000, type=7
/dev/sda3 : start=     1128448, size=      409600, type=83
"""
WIN_NEEDS = {n: fit.PartNeed(n, 20 * MIB, True, True) for n in (1, 2, 3)}


@pytest.mark.parametrize("ratio", [0.8, 1.5, 3.0])
def test_windows_partitions_of_an_mbr_disk_keep_their_start(ratio: float) -> None:
    table = ptable.parse_sf(WINDOWS_MBR)
    fitted = fit.fit(table, source_bytes=GIB, disk_bytes=int(GIB * ratio), sector=512,
                     needs=WIN_NEEDS, layout="proportional", keep_start=frozenset({1, 2}))
    by_number = {e.number: e for e in fitted.table.entries}
    assert by_number[1].start == 2048 and by_number[1].size == 102400  # before the last kept
    assert by_number[2].start == 104448 and by_number[2].size != 1024000  # only its end moves
    assert by_number[3].start >= by_number[2].start + by_number[2].size
    assert fitted.kept_starts == [2]  # the first one keeps its start anyway
    assert any("keep their start" in line for line in fit.describe(fitted, {}))


def test_gpt_partitions_move_freely() -> None:
    gpt = WINDOWS_MBR.replace("label: dos", "label: gpt").replace("type=7, bootable", "type=7")
    table = ptable.parse_sf(gpt)
    fitted = fit.fit(table, source_bytes=GIB, disk_bytes=int(GIB * 1.5), sector=512,
                     needs=WIN_NEEDS, layout="proportional", keep_start=frozenset({1, 2}))
    assert next(e for e in fitted.table.entries if e.number == 2).start != 104448
    assert fitted.kept_starts == []


def test_kept_starts_are_the_ntfs_partitions_of_mbr_disks() -> None:
    from oscar.backups.manifest import Manifest, PartEntry
    from oscar.ops.restore import retarget

    parts = [PartEntry(1, "sda1", MIB, 50 * MIB, "ntfs", None, None, None, "data"),
             PartEntry(2, "sda2", 51 * MIB, 500 * MIB, "ntfs", None, None, None, "data"),
             PartEntry(3, "sda3", 551 * MIB, 200 * MIB, "ext4", None, None, None, "data")]
    man = Manifest("x", "2026-01-01T00:00:00", "", {"name": "sda", "pttype": "dos"}, [], parts,
                   {}, "1")
    assert retarget.kept_starts(man) == {1, 2}
    man.source["pttype"] = "gpt"
    assert retarget.kept_starts(man) == frozenset()


def test_ntfsfixboot_argv_keeps_the_saved_geometry() -> None:
    from oscar.engine import ntfs

    assert ntfs.fixboot_argv("/dev/sdb2", 831488, 255, 63) == [
        "partclone.ntfsfixboot", "-b", "-s", "831488", "-h", "255", "-t", "63", "-w",
        "/dev/sdb2"]


def test_bcd_partition_devices_read_as_windows_writes_them() -> None:
    from oscar.engine import bcd

    # an osloader's device on an MBR disk, as bcdedit shows partition=C: (offset 0x15f00000)
    windows = bytes.fromhex(
        "00000000000000000000000000000000" "06000000" "00000000" "48000000" "00000000"
        "0000f01500000000" "0000000000000000" "00000000" "01000000" "f1a8ebb3" + "00" * 28)
    assert bcd.parse_device(windows) == (0xb3eba8f1, 0x15f00000)
    assert bcd.mbr_device(0xb3eba8f1, 0x15f00000) == windows
    gpt = bytearray(windows)
    gpt[0x34] = 0  # GPT: named by GUID, not by offset
    assert bcd.parse_device(bytes(gpt)) is None
    assert bcd.parse_device(b"\x05" * 0x58) is None and bcd.parse_device(b"") is None


def test_a_damaged_bcd_is_an_error_and_prints_no_traceback(tmp_path: Path) -> None:
    """A file that is not a hive (a damaged BCD): an exception the caller handles, and no
    traceback printed by the binding's destructor on the console."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    bad = tmp_path / "BCD"
    bad.write_bytes(b"regf" + bytes(range(256)) * 16)
    code = ("from pathlib import Path\nfrom oscar.engine import bcd\n"
            f"try:\n    bcd.mbr_references(Path({str(bad)!r}))\n"
            "except RuntimeError:\n    print('refused')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.stdout.strip() == "refused", result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
