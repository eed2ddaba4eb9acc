"""Restore onto disks that are not the model's: 0.7x, 1x and 1.5x its size, 4096-byte sectors,
and disks too small (refused before any write, with the numbers)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.ops import lab as labmod
from tests.conftest import (
    LAB_SIZE,
    ROOT,
    LabDisks,
    fs_clean,
    hash_device,
    make_lab,
    oscar,
    sh,
    snapshot_partition,
)
from tests.test_storage_roundtrip import file_level

pytestmark = pytest.mark.storage
MIB = 1 << 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("sizes-lab"), gpt=False, clients=0) as disks:
        for args in (["--name", "blocks"], ["--name", "files", "--method", "fsarchiver"]):
            saved = oscar("save", "--disk", disks.model, "--store", str(disks.store), *args, "--yes")
            assert saved.returncode == 0, saved.stderr
        yield disks


@pytest.fixture(scope="module")
def originals(lab: LabDisks) -> dict[int, dict[str, tuple[object, ...]]]:
    return {1: snapshot_partition(lab.part(lab.model, 1), "ntfs"),
            2: snapshot_partition(lab.part(lab.model, 2), "ext4")}


@contextlib.contextmanager
def disk(folder: Path, size: int, *, sector: int = 512) -> Iterator[str]:
    image = folder / f"target-{size}-{sector}.img"
    with image.open("wb") as fh:
        fh.truncate(size)
    device = sh("losetup", "--find", "--show", "--sector-size", str(sector), str(image)).stdout.strip()
    try:
        yield device
    finally:
        labmod.detach_device(device)
        image.unlink()


def table(device: str) -> dict[int, tuple[int, int]]:
    """Partition number → (start, size) in bytes."""
    data = json.loads(sh("sfdisk", "-J", device).stdout)["partitiontable"]
    sector = int(data.get("sectorsize", 512))
    return {int(p["node"].rsplit("p", 1)[1]): (p["start"] * sector, p["size"] * sector)
            for p in data["partitions"]}


def fs_size(device: str, fstype: str) -> int:
    if fstype == "ntfs":
        info = sh("ntfsresize", "--info", "--force", "--no-progress-bar", device, check=False).stdout
        line = next(x for x in info.splitlines() if x.startswith("Current volume size"))
        return int(line.split(":")[1].split()[0])
    head = sh("dumpe2fs", "-h", device).stdout
    fields = dict(x.split(":", 1) for x in head.splitlines() if ":" in x)
    return int(fields["Block count"]) * int(fields["Block size"])


def assert_restored(lab: LabDisks, target: str, originals: dict[int, dict[str, tuple[object, ...]]],
                    *, file_level_only: bool) -> None:
    """Both systems clean and their files as on the model (to the second for fsarchiver)."""
    for number, fstype in ((1, "ntfs"), (2, "ext4")):
        device = lab.part(target, number)
        fs_clean(device, fstype)
        restored = snapshot_partition(device, fstype)
        if file_level_only:
            ntfs = fstype == "ntfs"
            assert file_level(restored, ntfs=ntfs) == file_level(originals[number], ntfs=ntfs)
        else:
            assert restored == originals[number]


def fills(lab: LabDisks, target: str, new: dict[int, tuple[int, int]]) -> None:
    """Each filesystem fills its new partition (within one cluster or block)."""
    for number, fstype in ((1, "ntfs"), (2, "ext4")):
        assert new[number][1] - 4096 <= fs_size(lab.part(target, number), fstype) <= new[number][1]


def untouched(device: str) -> bool:
    """Still blank: no table, and nothing written anywhere on the disk."""
    return sh("cmp", "-s", "-n", str(sh("blockdev", "--getsize64", device).stdout.strip()), device,
           "/dev/zero", check=False).returncode == 0


@pytest.mark.parametrize("ratio,layout", [(0.7, "proportional"), (1.0, "proportional"),
                                          (1.5, "grow-last"), (1.5, "proportional")])
def test_block_images_onto_each_size(lab: LabDisks, tmp_path: Path, ratio: float, layout: str,
                                     originals: dict[int, dict[str, tuple[object, ...]]]) -> None:
    model = table(lab.model)
    size = int(LAB_SIZE * ratio) // MIB * MIB
    with disk(tmp_path, size) as target:
        plan = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                     "--with-table", "--layout", layout, "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert ("New layout" in plan.stdout) == (ratio != 1.0)
        assert untouched(target)
        result = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                       "--with-table", "--layout", layout, "--yes")
        assert result.returncode == 0, result.stderr
        new = table(target)
        assert new[4][1] == model[4][1]  # the OSCAR partition keeps its size
        assert new[4][0] + new[4][1] <= size
        if ratio == 1.0:
            assert new == model
        elif ratio < 1:
            assert new[1][1] < model[1][1] and new[2][1] < model[2][1]
            assert "Shrink the filesystem of partition 1" in plan.stdout
        elif layout == "grow-last":
            assert new[1][1] == model[1][1] and new[3][1] == model[3][1]
            assert new[2][1] > model[2][1] + int(0.4 * LAB_SIZE)
        else:
            assert new[1][1] > model[1][1] * 1.5 and new[2][1] > model[2][1] * 1.5
        assert_restored(lab, target, originals, file_level_only=False)
        fills(lab, target, new)
        assert "TYPE=swap" in sh("blkid", "-p", "-o", "export", lab.part(target, 3)).stdout
        assert "LABEL=OSCAR" in sh("blkid", "-p", "-o", "export", lab.part(target, 4)).stdout
        if ratio > 1 and layout == "proportional":
            # without the table, into the bigger partition: restored, then grown to fill it
            sh("dd", "if=/dev/zero", f"of={lab.part(target, 1)}", "bs=1M", "count=2")
            again = oscar("restore", "--disk", target, "--store", str(lab.store), "--name",
                          "blocks", "--parts", "1", "--yes")
            assert again.returncode == 0, again.stderr
            device = lab.part(target, 1)
            assert snapshot_partition(device, "ntfs") == originals[1]
            assert new[1][1] - 4096 <= fs_size(device, "ntfs") <= new[1][1]


def test_a_much_smaller_disk(lab: LabDisks, tmp_path: Path,
                             originals: dict[int, dict[str, tuple[object, ...]]]) -> None:
    """0.4x: only with --resize-oscar does the data fit. The NTFS block image's saved size does
    not fit on the disk even for a moment: it is shrunk in a file beside the backups first, then
    copied; the fsarchiver backup restores there directly."""
    size = int(LAB_SIZE * 0.4) // MIB * MIB
    with disk(tmp_path, size) as target:
        kept = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "files",
                     "--with-table", "--yes")
        assert kept.returncode != 0 and "too small" in kept.stderr and "--resize-oscar" in kept.stderr
        assert untouched(target)
        plan = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                     "--with-table", "--resize-oscar", "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert f"Restore partition 1 into a file in {lab.store}" in plan.stdout
        assert plan.stdout.count("Verify every checksum") == 1 and "received" not in plan.stdout
        blocks = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                       "--with-table", "--resize-oscar", "--yes")
        assert blocks.returncode == 0, blocks.stderr
        assert not list(lab.store.glob(".oscar-shrink-*"))  # the scratch file is gone
        new = table(target)
        assert max(start + length for start, length in new.values()) <= size
        assert_restored(lab, target, originals, file_level_only=False)
        fills(lab, target, new)
        result = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "files",
                       "--with-table", "--resize-oscar", "--yes")
        assert result.returncode == 0, result.stderr
        new = table(target)
        assert max(start + length for start, length in new.values()) <= size
        assert_restored(lab, target, originals, file_level_only=True)


def test_a_disk_too_small_for_the_data_is_refused_with_numbers(lab: LabDisks,
                                                                tmp_path: Path) -> None:
    size = 200 * MIB
    with disk(tmp_path, size) as target:
        for name in ("files", "blocks"):
            result = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", name,
                           "--with-table", "--resize-oscar", "--yes")
            assert result.returncode != 0
            line = result.stderr.strip().splitlines()
            assert any("too small" in x and "209.7 MB" in x and "of data" in x for x in line), \
                result.stderr
            assert untouched(target)
        # without the table, a partition smaller than the saved filesystem is refused too
        sh("sfdisk", "--quiet", target, input="label: dos\n\nsize=100MiB, type=7\n")
        sh("partx", "-a", target, check=False)
        before = hash_device(target)
        result = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                       "--parts", "1", "--yes")
        assert result.returncode != 0 and "too small" in result.stderr
        assert "block by block" in result.stderr
        assert hash_device(target) == before


def test_4096_byte_sectors(lab: LabDisks, tmp_path: Path,
                           originals: dict[int, dict[str, tuple[object, ...]]]) -> None:
    """A file-level backup of a 512-byte-sector disk restores onto a 4Kn disk; block images
    are refused with the reason, before any write."""
    with disk(tmp_path, LAB_SIZE, sector=4096) as target:
        refused = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "blocks",
                        "--with-table", "--yes")
        assert refused.returncode != 0
        assert "4096-byte sectors" in refused.stderr and "--method fsarchiver" in refused.stderr
        assert untouched(target)
        result = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "files",
                       "--with-table", "--yes")
        assert result.returncode == 0, result.stderr
        dump = sh("sfdisk", "-d", target).stdout
        assert "sector-size: 4096" in dump
        assert table(target)[1][0] == table(lab.model)[1][0]  # same byte offset: 1 MiB
        assert_restored(lab, target, originals, file_level_only=True)
        assert "TYPE=swap" in sh("blkid", "-p", "-o", "export", lab.part(target, 3)).stdout


@pytest.mark.parametrize("moment", ["shrinking in place", "shrinking in a file"])
def test_a_shrinking_restore_killed_then_run_again_succeeds(
        lab: LabDisks, tmp_path: Path, moment: str,
        originals: dict[int, dict[str, tuple[object, ...]]]) -> None:
    """Reliability case 6 on the new paths: killed while a filesystem shrinks on the disk
    (0.7x), or while an image is shrunk in a file beside the backups (0.4x); the same command
    again restores the PC, and leaves no file behind."""
    ratio, extra = (0.7, []) if moment == "shrinking in place" else (0.4, ["--resize-oscar"])
    size = int(LAB_SIZE * ratio) // MIB * MIB
    argv = [sys.executable, "-m", "oscar", "restore", "--disk", "", "--store", str(lab.store),
            "--name", "blocks", "--with-table", *extra, "--yes"]
    with disk(tmp_path, size) as target:
        argv[5] = target
        env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(argv, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            found = False
            while time.monotonic() < deadline and proc.poll() is None and not found:
                found = sh("pgrep", "-f", "ntfsresize --force --no-progress-bar --size",
                           check=False).returncode == 0
                time.sleep(0.01)
            assert found, "the restore never reached ntfsresize"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        sh("pkill", "-KILL", "-f", "ntfsresize --force --no-progress-bar", check=False)
        time.sleep(0.5)
        if moment == "shrinking in a file":
            assert list(lab.store.glob(".oscar-shrink-*"))  # left by the kill
        again = subprocess.run(argv, env=env, text=True, capture_output=True, timeout=600)
        assert again.returncode == 0, again.stderr
        assert not list(lab.store.glob(".oscar-shrink-*"))
        assert_restored(lab, target, originals, file_level_only=False)
        fills(lab, target, table(target))
