"""disque_usb's pure parts: the layout, its menu (checked by grub-script-check), the refusals,
the partitions found as stores and how they are mounted."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.backups import usbstore
from oscar.core.errors import TargetRefused
from oscar.disks.devices import Disk, Partition
from oscar.engine import grubcfg, layout, libparted
from oscar.ops.usbdisk import check_target, describe

pytestmark = pytest.mark.unit
GB = 1_000_000_000
HASH = "grub.pbkdf2.sha512.10000." + "AB" * 64 + "." + "CD" * 64


@pytest.mark.parametrize("size", [500 * GB, 2 * 10**12, 4 * 10**12, 8 << 30])
def test_the_usb_layout_boot_half_and_the_rest(size: int) -> None:
    label = layout.usb_label(size)
    assert label == ("gpt" if size > layout.MBR_LIMIT else "dos")
    parts = layout.usb_plan(size)
    assert parts[0].start == layout.MIB
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.start == before.start + before.size
    assert all(p.start % layout.MIB == 0 and p.size % layout.MIB == 0 for p in parts)
    roles = [(p.fstype, p.label) for p in parts]
    expected = [("vfat", "OSCAR-EFI"), ("ext4", "OSCAR-BOOT"), ("ext4", "OSCAR-SAVE"),
                ("ntfs", "OSCAR-ECOLE")]
    assert roles == ([("biosboot", "BIOS boot")] if label == "gpt" else []) + expected
    by_label = {p.label: p for p in parts}
    assert by_label["OSCAR-BOOT"].size == 2 << 30 and by_label["OSCAR-BOOT"].bootable
    assert abs(by_label["OSCAR-SAVE"].size - size // 2) <= layout.MIB
    end = parts[-1].start + parts[-1].size
    assert 0 <= size - end < 2 * layout.MIB + (layout.MIB if label == "gpt" else 0)
    told = {s.number: s for s in libparted.specs(parts, label, 512)}
    boot = told[by_label["OSCAR-BOOT"].number]
    assert ("boot" in boot.flags) == (label == "dos")
    if label == "gpt":
        assert told[1].flags == ("bios_grub",) and told[1].filesystem is None


def test_the_usb_layout_refuses_what_cannot_hold_it() -> None:
    with pytest.raises(TargetRefused, match="too small"):
        layout.usb_plan(3 << 30)
    with pytest.raises(TargetRefused, match="2 TiB"):
        layout.usb_plan(4 * 10**12, "dos")
    assert layout.mkfs_argv(layout.usb_plan(500 * GB)[1], "/dev/sdb2", "1234-uuid")[-3:] == \
        ["-U", "1234-uuid", "/dev/sdb2"]
    with pytest.raises(ValueError):
        layout.mkfs_argv(layout.usb_plan(4 * 10**12)[0], "/dev/sdb1")


def usb(size: int = 500 * GB, **kw: object) -> Disk:
    return Disk(path="/dev/sdb", size=size, model="WD Elements 25A2", serial="575836314134",
                **kw)  # type: ignore[arg-type]


def test_refusals_name_the_reason() -> None:
    check_target(usb(), allow_small=False)
    with pytest.raises(TargetRefused, match="at least 500.0 GB") as small:
        check_target(usb(320 * GB), allow_small=False)
    assert "--allow-small" in (small.value.hint or "")
    check_target(usb(320 * GB), allow_small=True)
    with pytest.raises(TargetRefused, match="started from"):
        check_target(usb(is_boot_medium=True), allow_small=True)
    with pytest.raises(TargetRefused, match="backup folder"):
        check_target(usb(holds_store=True), allow_small=True)
    busy = Partition("/dev/sdb1", 1, 1 << 20, 1 << 30, "ntfs", in_use=True)
    with pytest.raises(TargetRefused, match="/dev/sdb1 is mounted"):
        check_target(usb(partitions=[busy]), allow_small=True)


def test_the_plan_names_the_disk_by_model_serial_and_size() -> None:
    assert describe(usb()) == "WD Elements 25A2, serial 575836314134, 500.0 GB"
    assert describe(Disk(path="/dev/sdc", size=8 * GB)) == \
        "unknown model, no serial number, 8.0 GB"


@pytest.mark.parametrize("password_hash", [None, HASH])
def test_the_usb_disk_menu(password_hash: str | None) -> None:
    uuid = "0b1c2d3e-1111-2222-3333-444455556666"
    text = grubcfg.render_usbdisk(boot_uuid=uuid, password_hash=password_hash)
    grubcfg.check(text)
    assert f"search --no-floppy --fs-uuid --set=root {uuid}" in text
    assert text.count(f"live-media=/dev/disk/by-uuid/{uuid} live-media-path=/boot/live") == 3
    assert "oscar=restaure" in text and "oscar.lang=en" in text
    if password_hash:
        # a protected default would stop at the user name prompt: the PC's disk starts instead
        assert 'set default="disk"' in text and f"password_pbkdf2 oscar {HASH}" in text
        assert "--id disk --unrestricted" in text
    else:
        assert 'set default="oscar"' in text and "password" not in text


def test_usb_stores_are_found_by_label_and_filesystem(tmp_path: Path) -> None:
    parts = [Partition("/dev/sdb3", 3, 0, 1, "ext4", "OSCAR-SAVE"),
             Partition("/dev/sdb4", 4, 0, 1, "ntfs", "OSCAR-ECOLE"),
             Partition("/dev/sdc1", 1, 0, 1, "vfat", "OSCAR-SAVE")]  # wrong filesystem
    found = usbstore.find([usb(partitions=parts[:2]), Disk("/dev/sdc", 8 * GB,
                                                           partitions=parts[2:])])
    assert [(s.role, s.part.path) for s in found] == [("save", "/dev/sdb3"),
                                                      ("school", "/dev/sdb4")]
    school = found[1]
    assert usbstore.mount_point(school) == Path("/run/oscar/usb-school-sdb4")
    assert usbstore.mount_argv(school, tmp_path) == [
        "ntfs-3g", "-o", "rw,windows_names", "/dev/sdb4", str(tmp_path)]
    with pytest.raises(Exception, match="No OSCAR USB disk"):
        usbstore.require([Disk("/dev/sdc", 8 * GB, partitions=parts[2:])])
