"""DESIGN.md's reliability cases 1-10 (and the bad inputs of the issue), on real loop devices."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oscar.backups.store import Store
from oscar.core.progress import NullProgress
from oscar.ops import lab as labmod
from oscar.ops.restore.planner import RestoreOptions
from oscar.ops.restore.restorer import Restorer
from tests.conftest import (
    ROOT,
    LabDisks,
    hash_device,
    hibernated_windows,
    make_lab,
    oscar,
    reseal,
    sh,
    snapshot_partition,
)
from tests.conftest import copy_backup as conftest_copy_backup

pytestmark = pytest.mark.storage
MIB = 1 << 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("rel-lab"), gpt=False) as disks:
        result = oscar("save", "--disk", disks.model, "--store", str(disks.store), "--name", "base",
                       "--yes")
        assert result.returncode == 0, result.stderr
        yield disks


def copy_backup(lab: LabDisks, name: str) -> Path:
    return conftest_copy_backup(lab.store, "base", name)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(("oscar: error", "hint:"))]


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 2 and lines[0].startswith("oscar: error") and lines[1].startswith("hint:"), \
        result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def restore(lab: LabDisks, target: str, name: str, *extra: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return oscar("restore", "--disk", target, "--store", str(lab.store), "--name", name,
                 "--with-table", "--yes", *extra, env=env)


# 1. A flipped bit or a truncated image is detected before any byte reaches the target.
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_image_detected_before_writing(lab: LabDisks, blank_disk: Callable[..., str],
                                               damage: str) -> None:
    folder = copy_backup(lab, f"bad-{damage}")
    image = next(folder.glob("*.ntfs-img"))
    data = bytearray(image.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x10
        image.write_bytes(bytes(data))
    else:
        image.write_bytes(bytes(data[: len(data) * 2 // 3]))
    target = blank_disk()
    before = hash_device(target)
    assert_refused(restore(lab, target, folder.name), image.name)
    assert hash_device(target) == before
    # The refused restore left its reason in the backup's log folder.
    failed = [p.read_text() for p in (folder / "logs").glob("restore-*.log")]
    assert len(failed) == 1 and "restore failed" in failed[0] and image.name in failed[0]
    verify = oscar("verify", str(folder))
    assert_refused(verify, image.name)


# 2. A missing or wrong checksum file is a failure, never a silent skip.
@pytest.mark.parametrize("damage", ["missing", "wrong", "unlisted"])
def test_checksum_file_problems_fail(lab: LabDisks, blank_disk: Callable[..., str], damage: str) -> None:
    folder = copy_backup(lab, f"sums-{damage}")
    sums = folder / "B2SUMS"
    if damage == "missing":
        sums.unlink()
    elif damage == "wrong":
        lines = sums.read_text().splitlines()
        lines[0] = ("0" * 128) + lines[0][128:]
        sums.write_text("\n".join(lines) + "\n")
    else:
        lines = [line for line in sums.read_text().splitlines() if "ext4-ptcl-img" not in line]
        sums.write_text("\n".join(lines) + "\n")
    assert_refused(oscar("verify", str(folder)))
    target = blank_disk()
    before = hash_device(target)
    assert restore(lab, target, folder.name).returncode != 0
    assert hash_device(target) == before


# 3. A crafted image header is refused without a huge allocation.
def test_crafted_header_refused(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    folder = copy_backup(lab, "crafted")
    image = next(folder.glob("*.ext4-ptcl-img.zst"))
    raw = bytearray(sh_bytes(["zstd", "-d", "-c", str(image)]))
    struct.pack_into("<Q", raw, 60, 1 << 60)  # total blocks: 2^60
    struct.pack_into("<I", raw, 84, 0)  # block size: 0
    struct.pack_into("<I", raw, 106, zlib.crc32(bytes(raw[:106])) ^ 0xFFFFFFFF)
    image.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=bytes(raw), capture_output=True,
                                     check=True).stdout)
    reseal(folder)
    target = blank_disk()
    before = hash_device(target)
    assert_refused(restore(lab, target, "crafted"), "invalid header")
    assert hash_device(target) == before
    assert_refused(oscar("verify", str(folder), "--quick"), "invalid header")


# 3b. fsarchiver checks its own per-file checksums only while restoring: verify restores the
# archive into a scratch device, so damage that B2SUMS cannot see (resealed) is still found.
def test_damaged_fsarchiver_archive_found_by_trial_restore(lab: LabDisks) -> None:
    saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "fsa-ok",
                  "--parts", "2", "--method", "fsarchiver", "--yes")
    assert saved.returncode == 0, saved.stderr
    attached_before = sh("losetup", "-a").stdout
    good = oscar("verify", str(lab.store / "fsa-ok"))
    assert good.returncode == 0, good.stderr
    assert "every image decodes" in good.stdout
    folder = lab.store / "fsa-bad"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(lab.store / "fsa-ok", folder)
    archive = next(folder.glob("*.fsa"))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x10
    archive.write_bytes(bytes(data))
    reseal(folder)
    bad = oscar("verify", str(folder))
    assert_refused(bad, archive.name, "corrupt")
    # The scratch device is gone and so is its file.
    assert sh("losetup", "-a").stdout == attached_before
    assert not list(Path("/tmp").glob(".oscar-scratch-*")) and not list(lab.store.glob(".oscar-*"))


def sh_bytes(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True).stdout


# 4. Killing a save at any point leaves the previous backup listed and verifiable.
def _save_process(lab: LabDisks, name: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "oscar", "save", "--disk", lab.model, "--store",
                             str(lab.store), "--name", name, "--yes"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("moment", ["start", "first-image", "second-image", "publishing"])
def test_kill_during_save_keeps_previous_backup(lab: LabDisks, moment: str) -> None:
    copy_backup(lab, "victim")
    before = sh("b2sum", "-c", "B2SUMS", cwd=str(lab.store / "victim")).stdout
    partial = lab.store / ".oscar-partial-victim"
    checks: dict[str, Callable[[], bool]] = {
        "start": lambda: partial.exists(),
        "first-image": lambda: any(p.stat().st_size > 1 * MIB for p in partial.glob("*.ntfs-img")),
        "second-image": lambda: any(partial.glob("*.ext4-ptcl-img.zst")),
        "publishing": lambda: (partial / "oscar-manifest.json").exists(),
    }
    proc = _save_process(lab, "victim")
    try:
        reached = _wait_for(lambda: partial.exists() and checks[moment](), proc)
        if not reached:
            pytest.skip(f"the save finished before '{moment}' could be caught")  # timing only
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.5)  # the children die with OSCAR (PR_SET_PDEATHSIG)
    for pattern in (f"ntfsclone --save-image --output - {lab.model}p1",
                    f"partclone.extfs -c -a0 -s {lab.model}p2", "zstd -T0"):
        assert sh("pgrep", "-f", pattern, check=False).returncode != 0, f"orphan: {pattern}"
    listing = oscar("list", str(lab.store)).stdout
    assert "victim" in listing and "complete" in listing
    assert "partial" not in listing
    assert oscar("verify", str(lab.store / "victim")).returncode == 0
    assert sh("b2sum", "-c", "B2SUMS", cwd=str(lab.store / "victim")).stdout == before
    again = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "victim", "--yes")
    assert again.returncode == 0, again.stderr
    assert not partial.exists()


# 5. A full backup disk mid-save: a clear error, older backups intact.
def test_full_store_reported_and_older_backups_intact(lab: LabDisks, blank_disk: Callable[..., str],
                                                       tmp_path: Path) -> None:
    small = blank_disk(28 * MIB, name="smallstore")
    sh("mkfs.ext4", "-q", "-F", small)
    point = tmp_path / "small"
    point.mkdir()
    sh("mount", small, str(point))
    try:
        old = oscar("save", "--disk", lab.model, "--store", str(point), "--name", "old",
                    "--parts", "2", "--yes")
        assert old.returncode == 0, old.stderr
        full = oscar("save", "--disk", lab.model, "--store", str(point), "--name", "new", "--yes")
        assert_refused(full, "full")
        assert full.returncode == 7
        assert [p.name for p in point.iterdir() if p.name != "lost+found"] == ["old"]
        assert oscar("verify", str(point / "old")).returncode == 0
    finally:
        sh("umount", str(point))


# 6. Killing a restore, then running it again, succeeds.
def test_kill_restore_then_rerun(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    target = blank_disk()
    env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "oscar", "restore", "--disk", target, "--store",
                             str(lab.store), "--name", "base", "--with-table", "--yes"], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = _wait_for(lambda: sh("pgrep", "-f", f"ntfsclone --restore-image --overwrite {target}",
                                       check=False).returncode == 0, proc)
        assert started, "the restore never reached ntfsclone"
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.3)
    result = restore(lab, target, "base")
    assert result.returncode == 0, result.stderr
    assert snapshot_partition(lab.part(target, 1), "ntfs") == snapshot_partition(
        lab.part(lab.model, 1), "ntfs")


# 7. The store's partition and the boot medium are never accepted as targets.
def test_store_partition_refused(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "self",
                  "--parts", "4", "--yes")
    assert_refused(saved, "holds the backup")
    # A backup whose partition 4 holds data, restored onto the model, would hit the store.
    client = blank_disk()
    assert restore(lab, client, "base").returncode == 0
    other_store = lab.root / "otherstore"
    other_store.mkdir(exist_ok=True)
    four = oscar("save", "--disk", client, "--store", str(other_store), "--name", "p4", "--parts", "4",
                 "--yes")
    assert four.returncode == 0, four.stderr
    shutil.move(str(other_store / "p4"), str(lab.store / "p4"))
    # The store is mounted read-write here, so its bytes may move (atime); its backups may not.
    listing_before = sorted(p.name for p in lab.store.iterdir())
    result = oscar("restore", "--disk", lab.model, "--store", str(lab.store), "--name", "p4",
                   "--parts", "4", "--yes")
    assert_refused(result, "holds the backups")
    with_table = restore(lab, lab.model, "p4")
    assert_refused(with_table, "holds the backups")
    assert sorted(p.name for p in lab.store.iterdir()) == listing_before
    assert oscar("verify", str(lab.store / "base"), "--quick").returncode == 0
    shutil.rmtree(lab.store / "p4")


def test_boot_medium_refused(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    target = blank_disk()
    before = hash_device(target)
    result = restore(lab, target, "base", env={"OSCAR_BOOT_DEVICE": target})
    assert_refused(result, "started from")
    assert hash_device(target) == before
    probe = oscar("probe", env={"OSCAR_BOOT_DEVICE": target}).stdout
    assert any(target in line and "boot medium" in line for line in probe.splitlines())


def test_whole_disk_restore_refused_when_it_would_move_the_store(
        lab: LabDisks, blank_disk: Callable[..., str], tmp_path: Path) -> None:
    """A table from another layout, restored onto the disk holding the store, is refused."""
    other = blank_disk()
    sh("sfdisk", "--quiet", other, input="label: dos\n\nsize=300MiB, type=83\ntype=83\n")
    sh("partx", "-a", other, check=False)
    sh("mkfs.ext4", "-q", "-F", lab.part(other, 1))
    point = tmp_path / "o"
    point.mkdir()
    sh("mount", lab.part(other, 1), str(point))
    try:
        shutil.copytree(lab.store / "base", point / "base")
        before = sorted(os.listdir(point))
        result = oscar("restore", "--disk", other, "--store", str(point), "--name", "base",
                       "--with-table", "--yes")
        assert_refused(result, "would move or resize partition 1")
        assert sorted(os.listdir(point)) == before
        assert "size=      614400" in sh("sfdisk", "-d", other).stdout
    finally:
        sh("umount", str(point))


# 8. Disks are chosen by identity: a changed order changes nothing.
def test_swapped_disk_order_changes_nothing(lab: LabDisks, tmp_path: Path) -> None:
    a_img, b_img = tmp_path / "a.img", tmp_path / "b.img"
    for image in (a_img, b_img):
        with image.open("wb") as fh:
            fh.truncate(1 << 30)
    a, b = labmod.attach_image(a_img), labmod.attach_image(b_img)
    attached = [a, b]
    try:
        from oscar.disks import probe

        disk_a = probe.resolve_disk(a, store_paths=[str(lab.store)])
        restorer = Restorer(disk_a, Store(lab.store), RestoreOptions("base", with_table=True),
                            NullProgress())
        # Between the confirmation and the writing, the disks come back in the other order.
        labmod.detach_device(a)
        labmod.detach_device(b)
        attached = []
        new_b = labmod.attach_image(b_img)
        attached.append(new_b)
        new_a = labmod.attach_image(a_img)
        attached.append(new_a)
        assert new_b == a, "the loop numbers did not swap; the test would prove nothing"
        before_b = hash_device(new_b)
        restorer.run()
        assert hash_device(new_b) == before_b
        assert snapshot_partition(f"{new_a}p2", "ext4") == snapshot_partition(
            lab.part(lab.model, 2), "ext4")
        by_identity = oscar("restore", "--disk", f"loop:{a_img}", "--store", str(lab.store),
                            "--name", "base", "--parts", "2", "--dry-run")
        assert by_identity.returncode == 0 and new_a in by_identity.stdout
    finally:
        for device in attached:
            labmod.detach_device(device)


# 9. A target smaller than needed, or mounted, is refused before anything is written.
def test_small_target_refused(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    target = blank_disk(512 * MIB)
    before = hash_device(target)
    result = restore(lab, target, "base")
    assert_refused(result, "too small", "MB")
    assert hash_device(target) == before


def test_mounted_target_refused(lab: LabDisks, blank_disk: Callable[..., str], tmp_path: Path) -> None:
    target = blank_disk()
    assert restore(lab, target, "base").returncode == 0
    point = tmp_path / "m"
    point.mkdir()
    sh("mount", lab.part(target, 2), str(point))
    try:
        assert_refused(oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "base",
                             "--parts", "2", "--yes"), "mounted")
        assert_refused(restore(lab, target, "base"), "mounted")
        assert_refused(oscar("save", "--disk", target, "--store", str(lab.store), "--name", "m",
                             "--yes"), "mounted")
    finally:
        sh("umount", str(point))


# Bad inputs: one clear line and a hint, a non-zero exit, nothing lost.
def test_unknown_disk_and_backup(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    assert_refused(oscar("save", "--disk", "/dev/nope", "--store", str(lab.store), "--name", "x"),
                   "No disk")
    assert_refused(oscar("save", "--disk", "serial:NOPE", "--store", str(lab.store), "--name", "x"),
                   "No disk matches")
    assert_refused(oscar("save", "--disk", lab.part(lab.model, 1), "--store", str(lab.store),
                         "--name", "x"), "is a partition")
    assert_refused(oscar("restore", "--disk", blank_disk(), "--store", str(lab.store), "--name",
                         "nope", "--yes"), "No backup named 'nope'", "base")
    assert_refused(oscar("list", "/nonexistent"), "does not exist")
    assert_refused(oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "../x"),
                   "not a valid backup name")


def test_missing_tool_named_with_its_package(lab: LabDisks) -> None:
    result = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "x", "--yes",
                   env={"OSCAR_TOOL_PATH": "/nonexistent"})
    assert_refused(result, "is missing", "apt-get install")
    assert not (lab.store / "x").exists()


def assert_windows_save_refused(lab: LabDisks, name: str, *words: str) -> None:
    """Saving the model is refused as an unclean Windows (exit 9), and no backup appears."""
    result = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", name, "--yes")
    assert_refused(result, *words)
    assert result.returncode == 9
    assert not (lab.store / name).exists()


def test_hibernated_windows_refused(lab: LabDisks, tmp_path: Path) -> None:
    with hibernated_windows(lab.part(lab.model, 1), tmp_path):
        assert_windows_save_refused(lab, "hib", "hibernated", "fast startup")


def set_ntfs_dirty(device: str) -> None:
    """Set VOLUME_IS_DIRTY in $Volume (MFT record 3) and in its $MFTMirr copy, as Windows does
    when it schedules chkdsk or is cut off."""
    with open(device, "r+b") as fh:
        boot = fh.read(512)
        sector = struct.unpack_from("<H", boot, 0x0B)[0]
        cluster = sector * boot[0x0D]
        mft, mirror = struct.unpack_from("<QQ", boot, 0x30)
        per_record = struct.unpack_from("<b", boot, 0x40)[0]
        record_size = 2 ** -per_record if per_record < 0 else per_record * cluster
        for lcn in (mft, mirror):
            base = lcn * cluster + 3 * record_size
            fh.seek(base)
            record = bytearray(fh.read(record_size))
            assert record[:4] == b"FILE"
            offset = struct.unpack_from("<H", record, 0x14)[0]
            while True:
                kind, length = struct.unpack_from("<II", record, offset)
                assert kind != 0xFFFFFFFF, "no VOLUME_INFORMATION attribute"
                if kind == 0x70:
                    value = struct.unpack_from("<H", record, offset + 0x14)[0]
                    position = offset + value + 0x0A
                    assert position % sector < sector - 2  # clear of the fixup bytes
                    flags = struct.unpack_from("<H", record, position)[0]
                    struct.pack_into("<H", record, position, flags | 1)
                    break
                offset += length
            fh.seek(base)
            fh.write(record)


def test_dirty_windows_refused(lab: LabDisks) -> None:
    device = lab.part(lab.model, 1)
    set_ntfs_dirty(device)
    try:
        assert_windows_save_refused(lab, "dirty", "not shut down cleanly", "chkdsk")
    finally:
        sh("ntfsfix", "--clear-dirty", device)
    assert "Volume Flags: 0x0000" in sh("ntfsinfo", "-m", device).stdout


def test_unsupported_filesystem_offers_raw(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    disk = blank_disk(64 * MIB)
    sh("sfdisk", "--quiet", disk, input="label: dos\n\nsize=16MiB, type=83\n")
    sh("partx", "-a", disk, check=False)
    with open(lab.part(disk, 1), "r+b") as fh:
        fh.write(b"unknown filesystem" * 1000)
    result = oscar("save", "--disk", disk, "--store", str(lab.store), "--name", "unk", "--parts", "1",
                   "--yes")
    assert_refused(result, "no filesystem OSCAR knows", "--method raw")
    raw = oscar("save", "--disk", disk, "--store", str(lab.store), "--name", "unk", "--parts", "1",
                "--method", "raw", "--yes")
    assert raw.returncode == 0, raw.stderr
    assert "raw images copy every block" in raw.stdout
    assert list((lab.store / "unk").glob("*.dd-ptcl-img.zst"))
    target = blank_disk(64 * MIB)
    assert restore(lab, target, "unk").returncode == 0
    assert hash_device(lab.part(target, 1)) == hash_device(lab.part(disk, 1))
    shutil.rmtree(lab.store / "unk")


def test_dry_run_and_confirmation_change_nothing(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    target = blank_disk()
    before = hash_device(target)
    dry = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "base",
                "--with-table", "--dry-run")
    assert dry.returncode == 0 and "Write the saved partition table" in dry.stdout
    assert "identity loop:" in dry.stdout
    unconfirmed = oscar("restore", "--disk", target, "--store", str(lab.store), "--name", "base",
                        "--with-table")
    assert_refused(unconfirmed, "Confirmation needed", "--yes")
    assert unconfirmed.returncode == 8
    assert hash_device(target) == before
    names = sorted(os.listdir(lab.store))
    dry_save = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "dry",
                     "--dry-run")
    assert dry_save.returncode == 0 and "ntfsclone" in dry_save.stdout
    assert sorted(os.listdir(lab.store)) == names
