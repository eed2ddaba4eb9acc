"""Hostile and clumsy input on real loop disks (issue 17): what a crafted backup folder, a
full or read-only backup disk does to save, verify, list and restore. Nothing unchecked
reaches a disk; every refusal is one line, a hint and an exit code; no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oscar.ops import lab as labmod
from tests.conftest import LabDisks, hash_device, make_lab, oscar, release_mount, reseal, sh
from tests.conftest import copy_backup as conftest_copy_backup

pytestmark = pytest.mark.storage


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("hostile-lab"), gpt=False, clients=1) as disks:
        result = oscar("save", "--disk", disks.model, "--store", str(disks.store), "--name",
                       "base", "--yes")
        assert result.returncode == 0, result.stderr
        result = oscar("save", "--disk", disks.model, "--store", str(disks.store), "--name",
                       "raw", "--parts", "2", "--method", "raw", "--yes")
        assert result.returncode == 0, result.stderr
        yield disks


def copy_backup(lab: LabDisks, source: str, name: str) -> Path:
    return conftest_copy_backup(lab.store, source, name)


def edit_manifest(folder: Path, change: Callable[[dict[str, object]], None]) -> None:
    path = folder / "oscar-manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    reseal(folder)


def refused(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [x for x in result.stderr.splitlines() if x.startswith(("oscar: error", "hint:"))]
    assert len(lines) == 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def restore(lab: LabDisks, store: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return oscar("restore", "--disk", lab.clients[0], "--store", str(store), "--name", name,
                 "--yes", *extra)


def test_a_disk_name_that_leaves_the_folder_is_never_read(lab: LabDisks) -> None:
    """source.name "../evil": the table files would come from outside the backup, covered by
    no checksum. The manifest is refused where it is read: list, verify, restore."""
    folder = copy_backup(lab, "base", "evil")
    outside = lab.store / "evil-mbr"
    outside.write_bytes(b"\xeb" * 512)
    (lab.store / "evil-pt.sf").write_text("label: dos\n\n/dev/x1 : start=1, size=2, type=83\n")
    (lab.store / "evil-hidden-data-after-mbr").write_bytes(b"\xcc" * 4096)

    def change(data: dict[str, object]) -> None:
        source = data["source"]
        assert isinstance(source, dict)
        source["name"] = "../evil"

    edit_manifest(folder, change)
    try:
        listing = oscar("list", str(lab.store))
        assert listing.returncode == 0 and "Traceback" not in listing.stderr
        assert "base" in listing.stdout and "source.name" in listing.stdout
        refused(oscar("verify", str(folder)), 6, "source.name")
        before = hash_device(lab.clients[0])
        refused(restore(lab, lab.store, "evil", "--with-table"), 6, "source.name")
        assert hash_device(lab.clients[0]) == before
    finally:
        for name in ("evil-mbr", "evil-pt.sf", "evil-hidden-data-after-mbr"):
            (lab.store / name).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_table_file_the_manifest_does_not_list_is_never_written(lab: LabDisks) -> None:
    """The sectors after the MBR (where GRUB lives) come back only from a listed, checked file."""
    folder = copy_backup(lab, "base", "unlisted")
    disk = json.loads((folder / "oscar-manifest.json").read_text())["source"]["name"]

    def change(data: dict[str, object]) -> None:
        files = data["table_files"]
        assert isinstance(files, list)
        files.remove(f"{disk}-pt.sf")

    edit_manifest(folder, change)
    try:
        before = hash_device(lab.clients[0])
        refused(restore(lab, lab.store, "unlisted", "--with-table"), 6, "table_files")
        assert hash_device(lab.clients[0]) == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _shorter_raw(folder: Path) -> Path:
    image = next(folder.glob("*-ptcl-img.zst"))
    raw = subprocess.run(["zstd", "-d", "-c", str(image)], capture_output=True, check=True).stdout
    image.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=raw[: len(raw) // 2],
                                     capture_output=True, check=True).stdout)
    reseal(folder)
    return image


def test_a_raw_image_shorter_than_its_partition_is_refused_before_writing(lab: LabDisks) -> None:
    folder = copy_backup(lab, "raw", "raw-short")
    try:
        image = _shorter_raw(folder)
        refused(oscar("verify", str(folder)), 6, image.name, "bytes for a partition of")
        refused(oscar("verify", "--quick", str(folder)), 6, "bytes for a partition of")
        before = hash_device(lab.clients[0])
        refused(restore(lab, lab.store, "raw-short", "--with-table"), 6,
                "bytes for a partition of")
        assert hash_device(lab.clients[0]) == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_ntfsclone_image_labelled_raw_is_refused_before_writing(lab: LabDisks) -> None:
    folder = copy_backup(lab, "base", "mislabelled")

    def change(data: dict[str, object]) -> None:
        parts = data["partitions"]
        assert isinstance(parts, list)
        windows = next(p for p in parts if p["method"] == "ntfsclone")
        windows["method"] = "raw"

    edit_manifest(folder, change)
    try:
        before = hash_device(lab.clients[0])
        refused(restore(lab, lab.store, "mislabelled", "--with-table", "--parts", "1"), 6,
                "bytes for a partition of")
        assert hash_device(lab.clients[0]) == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("change,field", [
    (lambda d: d["partitions"][0].update(size="abc"), "partitions[0].size"),
    (lambda d: d["partitions"][0].update(fstype="../../tmp/x"), "partitions[0].fstype"),
    (lambda d: d.update(created=12345), "created"),
    (lambda d: d["source"].pop("name"), "source.name"),
])
def test_wrong_types_are_damaged_in_every_verb(lab: LabDisks, change: Callable[[dict], None],
                                               field: str) -> None:
    folder = copy_backup(lab, "base", "typed")
    edit_manifest(folder, change)
    try:
        listing = oscar("list", str(lab.store))
        assert listing.returncode == 0 and "Traceback" not in listing.stderr
        lines = {line.split()[0]: line for line in listing.stdout.splitlines() if line.strip()}
        assert "complete" in lines["base"] and field in lines["typed"]
        refused(oscar("verify", str(folder)), 6, field)
        refused(restore(lab, lab.store, "typed"), 6, field)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def small_store(root: Path, mib: int) -> Iterator[Path]:
    """A backup disk of its own: an ext4 loop device of ``mib`` MiB, mounted."""
    image = root / "small-store.img"
    with image.open("wb") as fh:
        fh.truncate(mib << 20)
    sh("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    device = labmod.attach_image(image)
    point = root / "small-store"
    point.mkdir()
    try:
        sh("mount", device, str(point))
        try:
            yield point
        finally:
            release_mount(point)
    finally:
        labmod.detach_device(device)


def fill_until(store: Path, filler: Path, left: int) -> None:
    """Take the store's free space down to about ``left`` bytes. The filler grows in steps
    (ext4 needs room for its extents); ext4 keeps clusters of its own that f_bfree counts and
    no write can use: f_bavail is what is left."""
    with filler.open("wb") as fh:
        for _step in range(64):
            stat = os.statvfs(store)
            free = stat.f_bavail * stat.f_frsize
            if free <= left + (64 << 10):
                break
            try:
                os.posix_fallocate(fh.fileno(), filler.stat().st_size, (free - left) // 2 or 4096)
            except OSError:
                break
    stat = os.statvfs(store)
    assert stat.f_bavail * stat.f_frsize < left + (256 << 10)


def test_a_full_or_read_only_backup_disk(lab: LabDisks, tmp_path: Path) -> None:
    """The table files fill the disk (ENOSPC while the sectors after the MBR are written): a
    clear 'full'; read-only: a clear 'read-only' for save, copy and import alike, and a
    restore from it still works. The older backup stays listed and verifiable throughout."""
    with small_store(tmp_path, 160) as store:
        result = oscar("save", "--disk", lab.model, "--store", str(store), "--name", "old",
                       "--parts", "2", "--yes")
        assert result.returncode == 0, result.stderr
        filler = store / "filler"
        fill_until(store, filler, 300 << 10)
        refused(oscar("save", "--disk", lab.model, "--store", str(store), "--name", "new",
                      "--parts", "2", "--yes"), 7, "full")
        assert sorted(p.name for p in store.iterdir()) == ["filler", "lost+found", "old"]
        assert oscar("verify", str(store / "old")).returncode == 0
        filler.unlink()
        sh("mount", "-o", "remount,ro", str(store))
        try:
            refused(oscar("save", "--disk", lab.model, "--store", str(store), "--name", "new",
                          "--parts", "2", "--yes"), 12, "read-only")
            refused(oscar("copy", "--from", str(lab.store), "--name", "raw", "--to", str(store)),
                    12, "read-only")
            listing = oscar("list", str(store))
            assert listing.returncode == 0 and "old" in listing.stdout
            result = restore(lab, store, "old", "--with-table")
            assert result.returncode == 0, result.stderr
        finally:
            sh("mount", "-o", "remount,rw", str(store))
