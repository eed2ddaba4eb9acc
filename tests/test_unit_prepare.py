"""Disk layouts and the refusals of "Prepare a disk" (pure code)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oscar.core.errors import TargetRefused
from oscar.disks.devices import Disk, Partition
from oscar.engine import layout, libparted, xsession
from oscar.ops.prepare import check_target, default_label
from oscar.ui.tui.flows.prepare import manual_editor

pytestmark = pytest.mark.unit
GB = 1_000_000_000


@pytest.mark.parametrize("size", [500 * GB, 3 << 30, 4 << 40])
@pytest.mark.parametrize("name", layout.LAYOUTS)
@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_layouts_fill_the_disk_aligned_with_the_oscar_partition_last(size: int, name: str,
                                                                      label: str) -> None:
    if label == "dos" and size > 2 << 40:
        with pytest.raises(TargetRefused, match="2 TiB"):
            layout.plan(size, name, label)
        return
    parts = layout.plan(size, name, label)
    assert parts[0].start == layout.MIB
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.start == before.start + before.size  # contiguous, no overlap
    assert all(p.start % layout.MIB == 0 and p.size % layout.MIB == 0 for p in parts)
    end = parts[-1].start + parts[-1].size
    assert end <= size - (layout.MIB if label == "gpt" else 0)
    assert size - end < 2 * layout.MIB + size // 1000  # nothing big is left unused
    oscar = parts[-1]
    assert (oscar.fstype, oscar.label) == ("ext4", "OSCAR")
    assert abs(oscar.size - size // 3) <= layout.MIB
    kinds = [p.label for p in parts]
    expected = {"windows": ["Windows"], "linux": ["Linux", "swap"],
                "dualboot": ["Windows", "Linux", "swap"]}[name]
    assert kinds == (["EFI"] if label == "gpt" else []) + expected + ["OSCAR"]
    if label == "gpt":
        assert parts[0].fstype == "vfat" and parts[0].size == layout.ESP_SIZE


def test_swap_is_capped_and_windows_gets_more_in_dual_boot() -> None:
    parts = {p.label: p for p in layout.plan(500 * GB, "dualboot", "dos")}
    assert parts["swap"].size == 4 << 30
    assert parts["Windows"].size > parts["Linux"].size


def test_what_libparted_is_told() -> None:
    gpt = libparted.specs(layout.plan(3 << 30, "linux", "gpt"), "gpt", 512)
    assert (gpt[0].start, gpt[0].length, gpt[0].filesystem, gpt[0].flags, gpt[0].name) == \
        (2048, 532480, "fat32", ("esp",), "EFI")
    assert (gpt[-1].filesystem, gpt[-1].flags, gpt[-1].name) == ("ext4", (), "OSCAR")
    mbr = libparted.specs(layout.plan(3 << 30, "windows", "dos"), "dos", 512)
    assert [(s.filesystem, s.flags, s.name) for s in mbr] == [("ntfs", (), None),
                                                                ("ext4", (), None)]
    dual = libparted.specs(layout.plan(3 << 30, "dualboot", "gpt"), "gpt", 4096)
    assert dual[1].flags == ("msftdata",) and dual[0].start == 256  # 1 MiB in 4 KiB sectors


def test_too_small_and_unknown_layouts_refused() -> None:
    with pytest.raises(TargetRefused, match="too small"):
        layout.plan(200 << 20, "dualboot", "gpt")
    with pytest.raises(TargetRefused, match="Unknown layout"):
        layout.plan(500 * GB, "mac", "dos")


def test_mkfs_argv() -> None:
    parts = layout.plan(3 << 30, "dualboot", "gpt")
    argvs = [layout.mkfs_argv(p, f"/dev/sdz{p.number}") for p in parts]
    assert argvs[0][:3] == ["mkfs.vfat", "-F", "32"] and argvs[1][0] == "mkfs.ntfs"
    assert "--quick" in argvs[1] and argvs[-1] == ["mkfs.ext4", "-q", "-F", "-L", "OSCAR", "/dev/sdz5"]
    assert argvs[3][:3] == ["mkswap", "-L", "swap"]


def test_refusals_and_defaults() -> None:
    blank = Disk("/dev/sdb", 500 * GB)
    check_target(blank)
    assert default_label(blank) == "dos" and default_label(Disk("/dev/sdc", 4 << 40)) == "gpt"
    with pytest.raises(TargetRefused, match="started from"):
        check_target(Disk("/dev/sda", 16 * GB, is_boot_medium=True))
    with pytest.raises(TargetRefused, match="erase the backups"):
        check_target(Disk("/dev/sdd", 500 * GB, holds_store=True))
    busy = Disk("/dev/sde", 500 * GB, partitions=[Partition("/dev/sde1", 1, 1 << 20, 1 << 30,
                                                               "ext4", in_use=True)])
    with pytest.raises(TargetRefused, match="mounted"):
        check_target(busy)
    assert manual_editor(None) == "gparted"
    assert manual_editor("no screen") == "cfdisk"


def test_gparted_needs_a_screen_and_says_why(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """gparted opens in a bare X session on the PC's screen; a serial-only PC is told why not
    (and where cfdisk is), never a black screen."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in xsession.PROGRAMS:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("OSCAR_TOOL_PATH", str(bin_dir))
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    why = xsession.unavailable(dev)
    assert why is not None and "serial console" in why and "cfdisk" in why
    (dev / "dri/card0").touch()
    assert xsession.unavailable(dev) is None
    argv = xsession.gparted_argv("/dev/sda")
    assert argv[:3] == ["xinit", str(bin_dir / "gparted"), "/dev/sda"]
    assert argv[argv.index("--") + 1:] == [":7", "vt7", "-nolisten", "tcp"]
    (bin_dir / "Xorg").unlink()
    why = xsession.unavailable(dev)
    assert why is not None and "Xorg" in why


def test_saved_machine_description_round_trips() -> None:
    disk = Disk("/dev/sda", 500 * GB, model="M", serial="S", pttype="dos", partitions=[
        Partition("/dev/sda1", 1, 1 << 20, 1 << 30, "ntfs", "Windows", used=5)])
    again = Disk.from_dict(disk.to_dict())
    assert again == disk and again.identity == disk.identity


def test_one_writer_per_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oscar.disks import disklock

    monkeypatch.setenv("OSCAR_LOCK_DIR", str(tmp_path))
    disk = Disk("/dev/sdb", 500 * GB, serial="S1", model="M")
    with disklock.locked(disk):
        assert disklock.busy(disk)
        with pytest.raises(TargetRefused, match="Another OSCAR is working on /dev/sdb"):
            with disklock.locked(disk):
                pass
        assert not disklock.busy(Disk("/dev/sdc", 500 * GB, serial="S2", model="M"))
    assert not disklock.busy(disk)
    first = disklock.hold("restaure")
    assert first is not None and disklock.hold("restaure") is None
    os.close(first)
    again = disklock.hold("restaure")
    assert again is not None
    os.close(again)
