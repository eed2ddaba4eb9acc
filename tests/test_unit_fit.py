"""Fitting a saved table onto other disks, and reading Clonezilla folders' names (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.backups import clonezilla
from oscar.backups.manifest import Manifest, PartEntry
from oscar.core.errors import BackupInvalid, TargetRefused
from oscar.disks.devices import Disk
from oscar.engine import fit, fsresize
from oscar.engine.ptable import parse_sf
from oscar.ops.restore import retarget

pytestmark = pytest.mark.unit
MIB = 1 << 20
GIB = 1 << 30
# The lab's model, 1 GiB: Windows 409 MiB, Linux 204 MiB, swap 40 MiB, OSCAR the rest.
SAVED = """label: dos
label-id: 0x1234abcd
device: /dev/sda
unit: sectors
sector-size: 512

/dev/sda1 : start=        2048, size=      837632, type=7
/dev/sda2 : start=      839680, size=      417792, type=83
/dev/sda3 : start=     1257472, size=       81920, type=82
/dev/sda4 : start=     1339392, size=      757760, type=83
"""
NEEDS = {1: fit.PartNeed(1, 60 * MIB, True, True), 2: fit.PartNeed(2, 40 * MIB, True, True),
         3: fit.PartNeed(3, 16 * MIB, True, False)}


def sizes(fitted: fit.Fitted) -> dict[int, int]:
    return {e.number: e.size * fitted.table.sector_size for e in fitted.table.entries}


def ends(fitted: fit.Fitted) -> int:
    return max((e.start + e.size) * fitted.table.sector_size for e in fitted.table.entries)


def test_same_disk_keeps_the_saved_table() -> None:
    table = parse_sf(SAVED)
    fitted = fit.fit(table, source_bytes=GIB, disk_bytes=GIB, sector=512, needs=NEEDS,
                     layout="proportional")
    assert fitted.same and fitted.table is table and not fitted.changes


@pytest.mark.parametrize("ratio", [0.7, 1.5, 3.0])
def test_proportional_scales_data_and_keeps_the_oscar_partition(ratio: float) -> None:
    disk = int(GIB * ratio)
    fitted = fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=disk, sector=512,
                     needs=NEEDS, layout="proportional")
    new, old = sizes(fitted), sizes(fit.Fitted(parse_sf(SAVED), [], "", True))
    assert new[4] == old[4]
    assert ends(fitted) <= disk and ends(fitted) > disk - 8 * MIB
    for number in (1, 2, 3):
        assert (new[number] > old[number]) == (ratio > 1)
        assert new[number] % MIB == 0
    starts = sorted(e.start for e in fitted.table.entries)
    assert starts[0] == 2048 and all(s * 512 % MIB == 0 for s in starts)
    assert "last-lba" not in fitted.table.header
    assert [line for line in fit.describe(fitted, {}) if "partition 1" in line]


def test_grow_last_gives_the_difference_to_the_last_data_partition() -> None:
    fitted = fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=2 * GIB, sector=512,
                     needs=NEEDS, layout="grow-last")
    new, old = sizes(fitted), sizes(fit.Fitted(parse_sf(SAVED), [], "", True))
    assert new[1] == old[1] and new[3] == old[3] and new[4] == old[4]
    assert new[2] > old[2] + GIB - 8 * MIB


def test_a_disk_too_small_is_refused_with_the_numbers() -> None:
    with pytest.raises(TargetRefused) as caught:
        fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=300 * MIB, sector=512,
                needs=NEEDS, layout="proportional")
    assert "314.6 MB" in caught.value.message and "kept" in caught.value.message
    assert "--resize-oscar" in (caught.value.hint or "")


def test_the_oscar_partition_shrinks_only_when_asked() -> None:
    needs = {**NEEDS, 4: fit.PartNeed(4, 256 * MIB, True, False)}
    fitted = fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=500 * MIB, sector=512,
                     needs=needs, layout="proportional")
    new = sizes(fitted)
    assert new[4] >= 256 * MIB and new[1] >= 60 * MIB and ends(fitted) <= 500 * MIB


def test_fixed_types_keep_their_size() -> None:
    gpt = SAVED.replace("label: dos", "label: gpt").replace("type=7", "type=C12A7328-F81F-"
                                                                      "11D2-BA4B-00A0C93EC93B")
    fitted = fit.fit(parse_sf(gpt), source_bytes=GIB, disk_bytes=2 * GIB, sector=512,
                     needs=NEEDS, layout="proportional")
    assert sizes(fitted)[1] == 837632 * 512
    assert ends(fitted) <= 2 * GIB - 33 * 512


def test_4096_byte_sectors_convert_the_table() -> None:
    fitted = fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=GIB, sector=4096,
                     needs=NEEDS, layout="proportional")
    assert fitted.table.header["sector-size"] == "4096"
    first = min(fitted.table.entries, key=lambda e: e.start)
    assert first.start == 256  # still 1 MiB from the start
    odd = SAVED.replace("start=        2048", "start=          63")
    with pytest.raises(TargetRefused, match="not on a 4096-byte sector"):
        fit.fit(parse_sf(odd), source_bytes=GIB, disk_bytes=GIB, sector=4096, needs=NEEDS,
                layout="proportional")


def test_an_unknown_saved_size_keeps_a_table_that_fits() -> None:
    fitted = fit.fit(parse_sf(SAVED), source_bytes=None, disk_bytes=GIB, sector=512,
                     needs=NEEDS, layout="proportional")
    assert fitted.same


def test_with_size_makes_the_temporary_table_of_a_shrinking_image() -> None:
    table = parse_sf(SAVED)
    stage = fit.with_size(table, 2, 300 * MIB, drop_after=True)
    assert [e.number for e in stage.entries] == [1, 2]
    assert stage.entries[1].size * 512 == 300 * MIB


def test_resize_argv_and_minimum_parsers() -> None:
    assert fsresize.resize_argv("ntfs", "/dev/sdb1", None) == [
        "ntfsresize", "--force", "--no-progress-bar", "/dev/sdb1"]
    assert fsresize.resize_argv("ext4", "/dev/sdb2", 100 * MIB) == [
        "resize2fs", "/dev/sdb2", "102400K"]
    assert fsresize.parse_ntfs_minimum(
        "You might resize at 2043904 bytes or 3 MB (freeing 312 MB).") == 2043904
    assert fsresize.parse_ext_minimum("Estimated minimum size of the filesystem: 5000\n",
                                      "Block size:               4096\n") == 5000 * 4096


def test_clonezilla_names(tmp_path: Path) -> None:
    assert clonezilla.part_number("sda", "sda12") == 12
    assert clonezilla.part_number("nvme0n1", "nvme0n1p3") == 3
    assert clonezilla.part_number("mmcblk0", "mmcblk0p1") == 1
    assert clonezilla.part_number("sda", "sdb1") is None
    for name in ("nvme0n1p2.ext4-ptcl-img.gz.aa", "nvme0n1p2.ext4-ptcl-img.gz.ab",
                 "nvme0n1p1.ntfs-img.zst", "nvme0n1p3.dd-ptcl-img.uncomp"):
        (tmp_path / name).write_bytes(b"")
    assert clonezilla.image_files(tmp_path, "nvme0n1p2") == (
        ["nvme0n1p2.ext4-ptcl-img.gz.aa", "nvme0n1p2.ext4-ptcl-img.gz.ab"], "partclone", "ext4",
        "gzip")
    assert clonezilla.image_files(tmp_path, "nvme0n1p1")[1:] == ("ntfsclone", "ntfs", "zstd")
    assert clonezilla.image_files(tmp_path, "nvme0n1p3")[1:] == ("raw", "", "none")
    (tmp_path / "nvme0n1p4.ext4-ptcl-img.xz").write_bytes(b"")
    with pytest.raises(BackupInvalid, match="does not read"):
        clonezilla.image_files(tmp_path, "nvme0n1p4")


@pytest.mark.parametrize("names,head,comp", [
    (["sda1.ntfs-img"], b"\0ntfsclone-image", "none"),  # Clonezilla -q, uncompressed
    (["sda1.ntfs-img.aa", "sda1.ntfs-img.ab"], b"\x1f\x8b\x08\x00", "gzip"),  # split gzip
    (["sda1.ntfs-img"], b"\x28\xb5\x2f\xfd\x04", "zstd"),  # OSCAR's own
    (["sda1.ntfs-img.gz.aa", "sda1.ntfs-img.gz.ab"], b"\x1f\x8b", "gzip"),  # older names
])
def test_ntfsclone_images_are_found_by_clonezilla_s_names(tmp_path: Path, names: list[str],
                                                          head: bytes, comp: str) -> None:
    for name in names:
        (tmp_path / name).write_bytes(head)
    assert clonezilla.image_files(tmp_path, "sda1") == (names, "ntfsclone", "ntfs", comp)


@pytest.mark.parametrize("head", [b"BZh91AY", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18"])
def test_ntfsclone_images_in_formats_oscar_does_not_read(tmp_path: Path, head: bytes) -> None:
    (tmp_path / "sda1.ntfs-img").write_bytes(head)
    with pytest.raises(BackupInvalid, match="does not read"):
        clonezilla.image_files(tmp_path, "sda1")


def test_clonezilla_checksum_files(tmp_path: Path) -> None:
    (tmp_path / "MD5SUMS").write_text("d41d8cd98f00b204e9800998ecf8427e  sda1.ext4-ptcl-img.gz.aa\n")
    (tmp_path / "SHA1SUMS").write_text("da39a3ee5e6b4b0d3255bfef95601890afd80709 *./sda1.x\n")
    sums = clonezilla.read_sums(tmp_path)
    assert sums["MD5SUMS"] == {"sda1.ext4-ptcl-img.gz.aa": "d41d8cd98f00b204e9800998ecf8427e"}
    assert sums["SHA1SUMS"] == {"sda1.x": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}
    (tmp_path / "SHA1SUMS").write_text("d41d8cd98f00b204e9800998ecf8427e  sda1.x\n")  # md5 length
    with pytest.raises(BackupInvalid, match="SHA1SUMS line 1"):
        clonezilla.read_sums(tmp_path)


def manifest(method: str = "ntfsclone") -> Manifest:
    parts = [
        PartEntry(1, "sda1", MIB, 837632 * 512, "ntfs", "Windows", None, None, "data", method,
                  "zstd", ["sda1.ntfs-img.zst"], used=30 * MIB),
        PartEntry(2, "sda2", 839680 * 512, 417792 * 512, "ext4", "Linux", None, None, "data",
                  "partclone", "zstd", ["sda2.ext4-ptcl-img.zst"], used=10 * MIB),
        PartEntry(3, "sda3", 1257472 * 512, 81920 * 512, "swap", "swap", None, None, "swap"),
        PartEntry(4, "sda4", 1339392 * 512, 757760 * 512, "ext4", "OSCAR", None, None, "store"),
    ]
    return Manifest("m", "2026-11-27", "pc", {"name": "sda", "size": GIB, "sector_size": 512},
                    ["sda-pt.sf"], parts, {}, "0")


def test_needs_follow_the_methods() -> None:
    man = manifest()
    needs = retarget.part_needs(man, {1, 2}, resize_store=False)
    assert needs[1].minimum == int(30 * MIB * 1.1) + retarget.FS_OVERHEAD
    assert needs[3].resizable and 4 not in needs
    later = retarget.part_needs(man, set(), resize_store=True)  # complète: restored later
    assert later[1].minimum == man.partitions[0].size  # a block image never shrinks then
    assert later[4].minimum == retarget.STORE_MIN


def test_a_shrinking_block_image_needs_its_saved_size_or_a_scratch_file() -> None:
    man = manifest()
    needs = {**retarget.part_needs(man, {1, 2}, resize_store=True)}
    disk = 400 * MIB  # partition 1 (409 MiB) cannot be restored at its saved size here
    fitted = fit.fit(parse_sf(SAVED), source_bytes=GIB, disk_bytes=disk, sector=512,
                     needs=needs, layout="proportional")
    data = [e for e in man.partitions if e.role == "data"]
    local = retarget.resizes(man, data, fitted, disk, 512, scratch_ok=True)
    assert 1 in local.scratch and 2 in local.shrink
    with pytest.raises(TargetRefused) as caught:  # a deployment's stream has no file to shrink
        retarget.resizes(man, data, fitted, disk, 512, scratch_ok=False)
    assert "block image" in caught.value.message and "--method fsarchiver" in (caught.value.hint or "")


def test_block_images_onto_other_sectors_are_refused() -> None:
    man = manifest()
    target = Disk("/dev/sdb", GIB, sector_size=4096)
    with pytest.raises(TargetRefused, match="4096-byte sectors"):
        retarget.check_sector_size(man, man.partitions[:1], target, format_only=False)
    retarget.check_sector_size(man, man.partitions[:1], target, format_only=True)
    files = manifest("fsarchiver")
    retarget.check_sector_size(files, files.partitions[:1], target, format_only=False)
