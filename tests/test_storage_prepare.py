"""Prepare a disk: the layouts written by sfdisk and formatted by the real mkfs tools, on loop
devices; the refusals leave the disk untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from oscar.backups import oscarpart
from oscar.disks import probe
from tests.conftest import LabDisks, fs_clean, hash_device, oscar, sh

pytestmark = pytest.mark.storage
GIB = 1 << 30
TYPES = {"dos": {"ntfs": "7", "ext4": "83", "swap": "82", "vfat": "ef"},
         "gpt": {"ntfs": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
                 "ext4": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
                 "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
                 "vfat": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}}


def blkid(device: str) -> dict[str, str]:
    out = sh("blkid", "-p", "-o", "export", device, check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize("layout, table", [("windows", "mbr"), ("linux", "gpt"),
                                           ("dualboot", "mbr"), ("dualboot", "gpt")])
def test_prepare_writes_and_formats_the_layout(blank_disk: Callable[..., str], layout: str,
                                               table: str) -> None:
    disk = blank_disk(3 * GIB)
    # An old table and filesystem signature that must not survive as ghosts.
    sh("sfdisk", "-q", disk, input="type=83\n")
    sh("partx", "-a", disk, check=False)
    sh("mkfs.ext4", "-q", "-F", "-L", "OLD", f"{disk}p1")
    result = oscar("prepare", "--disk", disk, "--layout", layout, f"--{table}", "--yes")
    assert result.returncode == 0, result.stderr
    parts = json.loads(sh("sfdisk", "-J", disk).stdout)["partitiontable"]
    assert parts["label"] == ("gpt" if table == "gpt" else "dos")
    expected = {"windows": [("ntfs", "Windows")],
                "linux": [("ext4", "Linux"), ("swap", "swap")],
                "dualboot": [("ntfs", "Windows"), ("ext4", "Linux"), ("swap", "swap")]}[layout]
    expected = ([("vfat", "EFI")] if table == "gpt" else []) + expected + [("ext4", "OSCAR")]
    assert len(parts["partitions"]) == len(expected)
    # the types libparted wrote (the OSCAR partition hidden from Windows on GPT too)
    types = TYPES[parts["label"]]
    assert [p["type"].upper() if parts["label"] == "gpt" else p["type"]
            for p in parts["partitions"]] == [types[fs] for fs, _label in expected]
    assert [p["start"] % 2048 for p in parts["partitions"]] == [0] * len(expected)
    if table == "gpt":
        assert [p.get("name") for p in parts["partitions"]] == [lb for _fs, lb in expected]
        assert "GUID:62,63" in parts["partitions"][-1].get("attrs", "")
    for number, (fstype, label) in enumerate(expected, 1):
        found = blkid(f"{disk}p{number}")
        assert found.get("TYPE") == fstype and found.get("LABEL") == label, (number, found)
        if fstype in ("ntfs", "ext4"):
            fs_clean(f"{disk}p{number}", fstype)
    assert "OLD" not in sh("blkid", "-p", "-o", "export", *[f"{disk}p{n}" for n in
                                                            range(1, len(expected) + 1)],
                           check=False).stdout
    # OSCAR finds the new OSCAR partition (the PC's store, for the menu and restaure).
    found = oscarpart.find([probe.resolve_disk(disk, with_usage=False)])
    assert found is not None and found[1].number == len(expected)


def test_prepare_refuses_a_disk_in_use_and_changes_nothing(mbr_lab: LabDisks,
                                                           blank_disk: Callable[..., str],
                                                           tmp_path: Path) -> None:
    # The lab model: its OSCAR partition (the store) is mounted.
    before = hash_device(mbr_lab.model)
    refused = oscar("prepare", "--disk", mbr_lab.model, "--layout", "windows", "--yes")
    assert refused.returncode == 5 and "mounted" in refused.stderr
    assert hash_device(mbr_lab.model) == before
    # A dry run prints the plan, warns about the OSCAR partition, and writes nothing.
    disk = blank_disk(3 * GIB)
    assert oscar("prepare", "--disk", disk, "--layout", "dualboot", "--yes").returncode == 0
    before = hash_device(disk)
    dry = oscar("prepare", "--disk", disk, "--layout", "linux", "--dry-run")
    assert dry.returncode == 0 and "Format partition 1 as ext4" in dry.stdout
    assert "is an OSCAR partition: the backups on it will be lost too" in dry.stdout
    assert hash_device(disk) == before
    # Without --yes and without a terminal: refused, nothing written.
    asked = oscar("prepare", "--disk", disk, "--layout", "linux")
    assert asked.returncode == 8 and hash_device(disk) == before
    too_small = blank_disk(256 << 20)
    small = oscar("prepare", "--disk", too_small, "--layout", "dualboot", "--gpt", "--yes")
    assert small.returncode == 5 and "too small" in small.stderr
