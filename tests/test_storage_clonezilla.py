"""Clonezilla image folders, made in the test the way Clonezilla makes them (sfdisk -d, the MBR,
partclone piped into gzip or zstd, split or not, *SUMS files), restored and verified by OSCAR."""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from tests.conftest import flip_a_byte, fs_clean, hash_device, oscar, sh, snapshot_partition

pytestmark = pytest.mark.storage
MIB = 1 << 20
SIZE = 600 * MIB
NTFS_TYPE = {"dos": "7", "gpt": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"}
SWAP_TYPE = {"dos": "82", "gpt": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"}


@contextlib.contextmanager
def loop_disk(image: Path, size: int) -> Iterator[str]:
    with image.open("wb") as fh:
        fh.truncate(size)
    device = labmod.attach_image(image)
    try:
        yield device
    finally:
        labmod.detach_device(device)
        image.unlink()


def fill(device: str, label: str) -> None:
    """A source PC: NTFS, ext4 and swap, with files."""
    sh("sfdisk", "--quiet", device, input=(
        f"label: {label}\n\nsize=240MiB, type={NTFS_TYPE[label]}\nsize=200MiB\n"
        f"size=32MiB, type={SWAP_TYPE[label]}\n"))
    sh("partx", "-a", device, check=False)
    part = [labmod.partition_path(device, n) for n in (1, 2, 3)]
    sh("mkfs.ntfs", "-Q", "-L", "Windows", part[0])
    sh("mkfs.ext4", "-q", "-L", "Linux", part[1])
    sh("mkswap", "-L", "swap", part[2])
    rng = random.Random(7)
    with mounted(part[0], "ntfs") as win:
        labmod.fill_windows(win, 20, rng)
    with mounted(part[1], "ext4") as lin:
        labmod.fill_linux(lin, 10, rng)


def clonezilla_folder(folder: Path, device: str, disk: str, *, comp: str, split: bool,
                      sums: list[str], ntfsclone: bool = False) -> None:
    """What Clonezilla's savedisk writes, for the disk named ``disk`` (whatever the device)."""
    folder.mkdir(parents=True)
    sep = "p" if disk[-1].isdigit() else ""
    dump = sh("sfdisk", "-d", device).stdout.replace(f"{device}p", f"/dev/{disk}{sep}")
    dump = dump.replace(f"device: {device}", f"device: /dev/{disk}")
    (folder / f"{disk}-pt.sf").write_text(dump)
    with open(device, "rb") as fh:
        (folder / f"{disk}-mbr").write_bytes(fh.read(512))
    parted = sh("parted", "-s", device, "unit", "s", "print").stdout
    (folder / f"{disk}-pt.parted").write_text(parted.replace(device, f"/dev/{disk}"))
    compressor = {"gz": "gzip -c", "zst": "zstd -q -c"}[comp]
    names = []
    for number, fs, program in ((1, "ntfs", "ntfs"), (2, "ext4", "extfs")):
        part, name = f"{disk}{sep}{number}", f"{disk}{sep}{number}.{fs}-ptcl-img.{comp}"
        source = labmod.partition_path(device, number)
        reader = f"partclone.{program} -c -s {source} -o - -L /dev/null"
        if ntfsclone and fs == "ntfs":
            # ocs-sr -q: ntfsclone's stream, its name without the compression (in the content)
            name, reader = f"{part}.ntfs-img", f"ntfsclone --save-image -o - {source}"
        # Clonezilla splits at its own size (4 GB by default); 1 MiB pieces here, so that the
        # lab's few MB make several pieces whatever /usr/bin (the lab's "programs") holds.
        out = f"split -b 1M -a 2 - {name}." if split else f"cat > {name}"
        sh("bash", "-c", f"set -o pipefail; {reader} | {compressor} | {out}", cwd=str(folder))
        names.append(part)
    uuid = sh("blkid", "-s", "UUID", "-o", "value", labmod.partition_path(device, 3)).stdout.strip()
    (folder / f"swappt-{disk}{sep}3.info").write_text(f'UUID="{uuid}"\nLABEL="swap"\n')
    (folder / "parts").write_text(" ".join(names) + "\n")
    (folder / "disk").write_text(disk + "\n")
    # Clonezilla keeps blkid's word on each partition (labels, UUIDs) in blkid.list
    found = sh("blkid", *(labmod.partition_path(device, n) for n in (1, 2, 3))).stdout
    (folder / "blkid.list").write_text(found.replace(f"{device}p", f"/dev/{disk}{sep}"))
    (folder / "clonezilla-img").write_text("This image was saved by Clonezilla\n")
    for tool, file in (("md5sum", "MD5SUMS"), ("sha1sum", "SHA1SUMS"), ("b2sum", "B2SUMS")):
        if file in sums:
            sh("bash", "-c", f"{tool} *-img* > {file}", cwd=str(folder))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, object]]]:
    """One MBR and one GPT source disk, each saved as a Clonezilla folder into one store."""
    root = tmp_path_factory.mktemp("clonezilla")
    store = root / "store"
    snaps: dict[str, object] = {}
    for key, disk, comp, split, sums in (("dos", "sda", "gz", True, ["MD5SUMS", "SHA1SUMS"]),
                                         ("gpt", "nvme0n1", "zst", False, []),
                                         ("dos-ntfsclone", "sdb", "gz", True, ["MD5SUMS"])):
        label = key.split("-")[0]
        with loop_disk(root / f"{key}.img", SIZE) as device:
            fill(device, label)
            clonezilla_folder(store / f"cz-{key}", device, disk, comp=comp, split=split,
                              sums=sums, ntfsclone=key.endswith("ntfsclone"))
            snaps[key] = (snapshot_partition(labmod.partition_path(device, 1), "ntfs"),
                            snapshot_partition(labmod.partition_path(device, 2), "ext4"),
                            sh("sfdisk", "-d", device).stdout)
    yield store, snaps
    shutil.rmtree(root, ignore_errors=True)


def rows(dump: str) -> list[str]:
    return [line.split(":", 1)[1] for line in dump.splitlines() if " : " in line]


@pytest.mark.parametrize("label", ["dos", "gpt", "dos-ntfsclone"])
def test_clonezilla_folder_verifies_and_restores(source: tuple[Path, dict[str, object]],
                                                 tmp_path: Path, label: str) -> None:
    store, snaps = source
    folder = store / f"cz-{label}"
    if label == "dos":
        assert len(list(folder.glob("sda1.ntfs-ptcl-img.gz.a?"))) >= 3  # split as Clonezilla does
    if label == "dos-ntfsclone":
        assert len(list(folder.glob("sdb1.ntfs-img.a?"))) >= 2  # ocs-sr -q: no compression suffix
    listing = oscar("list", str(store)).stdout
    assert f"cz-{label}" in listing and "Clonezilla image" in listing
    verify = oscar("verify", str(folder))
    assert verify.returncode == 0, verify.stderr
    checked = {"dos": "MD5SUMS, SHA1SUMS", "dos-ntfsclone": "MD5SUMS"}.get(
        label, "the images' own checksums")
    assert checked in verify.stdout and "every image decodes" in verify.stdout
    windows, linux, dump = snaps[label]  # type: ignore[misc]
    with loop_disk(tmp_path / "target.img", SIZE) as target:
        plan = oscar("restore", "--disk", target, "--store", str(store), "--name", f"cz-{label}",
                     "--with-table", "--dry-run")
        assert "(ntfs, Windows)" in plan.stdout and "(ext4, Linux)" in plan.stdout, plan.stdout
        result = oscar("restore", "--disk", target, "--store", str(store), "--name", f"cz-{label}",
                       "--with-table", "--yes")
        assert result.returncode == 0, result.stderr
        assert rows(sh("sfdisk", "-d", target).stdout) == rows(dump)
        fs_clean(labmod.partition_path(target, 1), "ntfs")
        fs_clean(labmod.partition_path(target, 2), "ext4")
        assert snapshot_partition(labmod.partition_path(target, 1), "ntfs") == windows
        assert snapshot_partition(labmod.partition_path(target, 2), "ext4") == linux
        swap = sh("blkid", "-p", "-o", "export", labmod.partition_path(target, 3)).stdout
        assert "TYPE=swap" in swap and "LABEL=swap" in swap
    # and onto a bigger disk with another name scheme: the partitions grow, the files stay
    with loop_disk(tmp_path / "bigger.img", SIZE * 3 // 2) as target:
        result = oscar("restore", "--disk", target, "--store", str(store), "--name", f"cz-{label}",
                       "--with-table", "--yes")
        assert result.returncode == 0, result.stderr
        assert snapshot_partition(labmod.partition_path(target, 2), "ext4") == linux
        fs_clean(labmod.partition_path(target, 1), "ntfs")


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_damaged_clonezilla_image_is_refused_before_any_write(
        source: tuple[Path, dict[str, object]], tmp_path: Path, label: str) -> None:
    store, _snaps = source
    damaged = store / f"damaged-{label}"
    shutil.copytree(store / f"cz-{label}", damaged)
    try:
        image = sorted(damaged.glob("*2.ext4-ptcl-img.*"))[0]
        flip_a_byte(image)
        verify = oscar("verify", str(damaged))
        assert verify.returncode != 0
        assert ("Checksum mismatch" if label == "dos" else "cannot be decoded") in verify.stderr
        with loop_disk(tmp_path / "target.img", SIZE) as target:
            before = hash_device(target)
            result = oscar("restore", "--disk", target, "--store", str(store),
                           "--name", damaged.name, "--with-table", "--yes")
            assert result.returncode != 0
            assert hash_device(target) == before
        # a checksum file that does not cover an image is a failure, never a silent skip
        if label == "dos":
            sums = damaged / "MD5SUMS"
            sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines()
                                    if ".ext4-" not in line))
            (damaged / "SHA1SUMS").unlink()
            shutil.copy(store / f"cz-{label}" / image.name, image)
            verify = oscar("verify", str(damaged))
            assert verify.returncode != 0 and "not covered" in verify.stderr
    finally:
        shutil.rmtree(damaged, ignore_errors=True)
