"""Clonezilla as a peer (issue 18): Debian's real ocs-sr, in batch mode on loop disks, restores
what OSCAR writes, and OSCAR restores what ocs-sr writes; judged file by file and by the
partition table (active flag included).

Running ocs-sr here: it takes loop disks by name (loop3) and its image root with -or; it runs
in a private mount namespace (unshare -m) where its configuration says use_dev_list_cache="no"
(otherwise it probes every device, ~40 s) and /var/log is the test's folder; its targets are
attached without --partscan (its blockdev --rereadpt removes the partitions of such loops
here), their partitions added with partx afterwards and removed before detaching."""

from __future__ import annotations

import contextlib
import random
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from tests.conftest import fs_clean, oscar, sh

pytestmark = pytest.mark.storage
SIZE = 600 << 20
OCS_CONF = Path("/etc/drbl/drbl-ocs.conf")


@contextlib.contextmanager
def plain_loop(image: Path, size: int = SIZE) -> Iterator[str]:
    """A loop disk attached without --partscan, as ocs-sr needs it."""
    if not image.exists():
        with image.open("wb") as fh:
            fh.truncate(size)
    device = sh("losetup", "--find", "--show", str(image)).stdout.strip()
    try:
        yield device
    finally:
        sh("partx", "-d", device, check=False)
        sh("losetup", "-d", device, check=False)


def partitions(device: str) -> None:
    """The kernel's view of the table ocs-sr or OSCAR just wrote."""
    sh("partx", "-d", device, check=False)
    sh("partx", "-a", device, check=False)


def ocs_sr(tmp: Path, *args: str) -> None:
    """ocs-sr in its own mount namespace, configuration and log folder; fails the test with the
    end of its output when it fails."""
    conf = tmp / "drbl-ocs.conf"
    conf.write_text("".join(
        'use_dev_list_cache="no"\n' if line.startswith("use_dev_list_cache=") else line + "\n"
        for line in OCS_CONF.read_text().splitlines()))
    logs = tmp / "ocs-var-log"
    logs.mkdir(exist_ok=True)
    script = (f"mount --bind {shlex.quote(str(conf))} {OCS_CONF} && "
              f"mount --bind {shlex.quote(str(logs))} /var/log && "
              f"exec ocs-sr {shlex.join(args)}")
    out = tmp / "ocs-sr.out"
    with out.open("w") as fh:
        result = subprocess.run(["unshare", "-m", "sh", "-c", script], stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600)
    text = out.read_text(errors="replace")
    assert result.returncode == 0, text[-3000:]


def table_rows(device: str) -> list[str]:
    dump = sh("sfdisk", "-d", device).stdout
    return [" ".join(line.split(" : ", 1)[1].split()) for line in dump.splitlines() if " : " in line]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[int, object]]]:
    """A BIOS Windows-and-Linux PC: NTFS (active) and ext4, with files."""
    root = tmp_path_factory.mktemp("czpeer")
    with plain_loop(root / "source.img") as device:
        sh("sfdisk", "--quiet", device, input="label: dos\n\nsize=260MiB, type=7, bootable\n"
                                                "size=200MiB, type=83\n")
        partitions(device)
        win, lin = labmod.partition_path(device, 1), labmod.partition_path(device, 2)
        sh("mkfs.ntfs", "-Q", "-L", "Windows", "-p", "2048", "-H", "255", "-S", "63", win)
        sh("mkfs.ext4", "-q", "-L", "Linux", lin)
        rng = random.Random(18)
        with mounted(win, "ntfs") as point:
            labmod.fill_windows(point, 24, rng)
        with mounted(lin, "ext4") as point:
            labmod.fill_linux(point, 12, rng)
        snaps: dict[int, object] = {}
        for number, fstype in ((1, "ntfs"), (2, "ext4")):
            with mounted(labmod.partition_path(device, number), fstype, readonly=True) as point:
                snaps[number] = labmod.snapshot(point)
        yield root, device, snaps


def assert_like_source(device: str, source_device: str, snaps: dict[int, object]) -> None:
    partitions(device)
    assert table_rows(device) == table_rows(source_device)  # bootable, types, places
    for number, fstype in ((1, "ntfs"), (2, "ext4")):
        part = labmod.partition_path(device, number)
        fs_clean(part, fstype)
        with mounted(part, fstype, readonly=True) as point:
            assert labmod.snapshot(point) == snaps[number], number


# ocs-sr checks an image with partclone.chkimg before restoring it; it cannot check ntfsclone
# images (its own -q ones neither) and stops on them unless told to skip the check (-scr).
@pytest.mark.parametrize("method,check", [("auto", ["-scr"]), ("partclone", [])],
                         ids=["ntfsclone", "partclone-checked-by-clonezilla"])
def test_clonezilla_restores_what_oscar_saves(source: tuple[Path, str, dict[int, object]],
                                              tmp_path: Path, method: str,
                                              check: list[str]) -> None:
    root, device, snaps = source
    store = tmp_path / "images"
    store.mkdir()
    saved = oscar("save", "--disk", device, "--store", str(store), "--name", "oscar-made",
                  "--method", method, "--yes")
    assert saved.returncode == 0, saved.stderr
    with plain_loop(tmp_path / "target.img") as target:
        # -irhr -ius -iui: none of Clonezilla's changes to a restored Linux (it renews
        # /etc/machine-id, udev rules): the files are compared with the source's
        ocs_sr(tmp_path, "-b", "-or", str(store), "-e1", "auto", "-e2", "-r", "-j2", "-k0",
               "-irhr", "-ius", "-iui", *check, "-p", "true", "restoredisk", "oscar-made",
               Path(target).name)
        assert_like_source(target, device, snaps)


@pytest.mark.parametrize("options,names", [
    (["-q2", "-z9p"], "*.ntfs-ptcl-img.zst*"),  # partclone and zstd
    (["-q2", "-z1p"], "*.ntfs-ptcl-img.gz*"),  # partclone and gzip (Clonezilla's default)
    (["-q", "-z1p", "-i", "40"], "*.ntfs-img.a?"),  # ntfsclone, split in 40 MB pieces
], ids=["partclone-zstd", "partclone-gzip", "ntfsclone-split"])
def test_oscar_restores_what_clonezilla_saves(source: tuple[Path, str, dict[int, object]],
                                              tmp_path: Path, options: list[str],
                                              names: str) -> None:
    root, device, snaps = source
    store = tmp_path / "images"
    store.mkdir()
    ocs_sr(tmp_path, "-b", "-or", str(store), *options, "-sfsck", "-senc", "-scs", "-gm",
           "-j2", "-p", "true", "savedisk", "cz-made", Path(device).name)
    folder = store / "cz-made"
    assert list(folder.glob(names)), sorted(p.name for p in folder.iterdir())
    verify = oscar("verify", str(folder))
    assert verify.returncode == 0 and "MD5SUMS" in verify.stdout, verify.stdout + verify.stderr
    with plain_loop(tmp_path / "target.img") as target:
        result = oscar("restore", "--disk", target, "--store", str(store), "--name", "cz-made",
                       "--with-table", "--yes")
        assert result.returncode == 0, result.stderr
        assert_like_source(target, device, snaps)
