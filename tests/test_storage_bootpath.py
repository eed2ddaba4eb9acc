"""The table as a PC needs it to start (issue 18, first part), on real loop disks: the MBR's
active flag, the disk signature, GPT names, GUIDs and attributes come back from a restore
with its table, on a disk of the same size and on a bigger one; a backup carries parted's
print that Clonezilla's ocs-sr needs."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oscar.engine import bcd
from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from tests.conftest import LAB_SIZE, LabDisks, make_lab, oscar, sh

pytestmark = pytest.mark.storage


def table_rows(dump: str, disk: str) -> tuple[dict[str, str], list[str]]:
    """sfdisk -d without the device names: (header, partition lines)."""
    header, rows = {}, []
    for line in dump.splitlines():
        if " : " in line:
            rows.append(re.sub(r"\s+", " ", line.split(" : ", 1)[1]))
        elif ":" in line and not line.startswith("device:"):
            key, _sep, value = line.partition(":")
            header[key.strip()] = value.strip()
    return header, rows


@pytest.fixture(scope="module", params=[False, True], ids=["mbr", "gpt"])
def lab(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    gpt = bool(request.param)
    with make_lab(tmp_path_factory.mktemp("bootpath"), gpt=gpt, clients=1) as disks:
        if not gpt:
            sh("sfdisk", "--activate", disks.model, "1")  # Windows' partition starts the PC
        result = oscar("save", "--disk", disks.model, "--store", str(disks.store), "--name",
                       "starts", "--yes")
        assert result.returncode == 0, result.stderr
        yield disks


def test_the_table_comes_back_as_saved(lab: LabDisks, blank_disk: Callable[..., str]) -> None:
    model_header, model_rows = table_rows(sh("sfdisk", "-d", lab.model).stdout, lab.model)
    label = model_header["label"]
    if label == "dos":
        assert model_rows[0].endswith(", bootable") and not model_rows[1].endswith("bootable")
    else:
        assert any("attrs=" in row for row in model_rows) or any("name=" in r for r in model_rows)
    result = oscar("restore", "--disk", lab.clients[0], "--store", str(lab.store), "--name",
                   "starts", "--with-table", "--yes")
    assert result.returncode == 0, result.stderr
    header, rows = table_rows(sh("sfdisk", "-d", lab.clients[0]).stdout, lab.clients[0])
    assert rows == model_rows and header == model_header
    with open(lab.clients[0], "rb") as fh:
        first = fh.read(512)
    with open(lab.model, "rb") as fh:
        assert first[440:512] == fh.read(512)[440:512]  # signature, table, active flag: bytes

    # a bigger disk: the partitions move and grow, every flag and name stays
    bigger = blank_disk(LAB_SIZE * 3 // 2, "bigger")
    result = oscar("restore", "--disk", bigger, "--store", str(lab.store), "--name", "starts",
                   "--with-table", "--yes")
    assert result.returncode == 0, result.stderr
    header, rows = table_rows(sh("sfdisk", "-d", bigger).stdout, bigger)
    assert header["label-id"] == model_header["label-id"]

    def flags(row: str) -> list[str]:
        return [item.strip() for item in row.split(",") if not item.strip().startswith(
            ("start=", "size="))]

    assert [flags(r) for r in rows] == [flags(r) for r in model_rows]


def test_the_backup_carries_parted_print(lab: LabDisks) -> None:
    folder = lab.store / "starts"
    disk = lab.model.removeprefix("/dev/")
    printed = (folder / f"{disk}-pt.parted").read_text()
    sectors = int(sh("blockdev", "--getsz", lab.model).stdout)
    assert re.search(rf"^Disk /dev/{disk}: {sectors}s$", printed, re.M), printed
    assert f"{disk}-pt.parted" in (folder / "B2SUMS").read_text()


@contextlib.contextmanager
def ntfs_second_disk(root: Path, label: str) -> Iterator[str]:
    """A disk whose NTFS partition comes second, after an ext4 one that grows with the disk:
    on GPT the NTFS partition moves, on MBR it must not (Windows' BCD names it by offset)."""
    image = root / f"ntfs2-{label}.img"
    with image.open("wb") as fh:
        fh.truncate(SOURCE)
    device = labmod.attach_image(image)
    try:
        sh("sfdisk", "--quiet", device, input=(
            f"label: {label}\n\nsize=120MiB, type={LINUX[label]}\n"
            f"size=200MiB, type={NTFS[label]}\n"))
        sh("partx", "-u", device, check=False)
        sh("partx", "-a", device, check=False)
        first, second = (labmod.partition_path(device, n) for n in (1, 2))
        sh("mkfs.ext4", "-q", "-L", "Data", first)
        start = int(Path(f"/sys/class/block/{Path(second).name}/start").read_text())
        sh("mkfs.ntfs", "-Q", "-L", "Windows", "-p", str(start), "-H", "255", "-S", "63", second)
        with mounted(second, "ntfs") as win:
            (win / "Windows").mkdir()
            (win / "Windows" / "win.ini").write_text("[fonts]\n")
            if label == "dos":
                (win / "Boot").mkdir()
                write_bcd(win / "Boot" / "BCD", disk_signature(device), start * 512)
        yield device
    finally:
        labmod.detach_device(device)


SOURCE = 512 << 20
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
OSLOADER = "{6c1c7b2e-2c55-11ee-9b5e-525400123456}"


def disk_signature(device: str) -> int:
    with open(device, "rb") as fh:
        return int.from_bytes(fh.read(512)[440:444], "little")


def write_bcd(path: Path, signature: int, offset: int) -> None:
    """A BCD store as Windows leaves it on an MBR disk, reduced to what names partitions:
    the boot manager's device and Windows' loader's device and OS device, all the partition
    at ``offset`` of the disk ``signature`` (a registry hive built from the seed hive)."""
    import shutil

    import hivex

    shutil.copyfile(labmod.registry_seed(), path)
    h = hivex.Hivex(str(path), write=True)
    objects = h.node_add_child(h.root(), "Objects")
    for guid, elements in ((BOOTMGR, ("11000001",)), (OSLOADER, ("11000001", "21000001"))):
        node = h.node_add_child(h.node_add_child(objects, guid), "Elements")
        for name in elements:
            h.node_set_value(h.node_add_child(node, name), {
                "key": "Element", "t": 3, "value": bcd.mbr_device(signature, offset)})
    h.commit(str(path))
LINUX = {"dos": "83", "gpt": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}
NTFS = {"dos": "7", "gpt": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"}


def hidden_sectors(device: str) -> int:
    with open(device, "rb") as fh:
        return int.from_bytes(fh.read(512)[0x1C:0x20], "little")


def kernel_start(device: str) -> int:
    return int(Path(f"/sys/class/block/{Path(device).name}/start").read_text())


@pytest.mark.parametrize("label", ["gpt", "dos"])
@pytest.mark.parametrize("method", ["auto", "fsarchiver"])  # auto: ntfsclone for NTFS
def test_a_moved_ntfs_partition_knows_its_new_start(tmp_path: Path, blank_disk: Callable[..., str],
                                                   label: str, method: str) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with ntfs_second_disk(tmp_path, label) as source:
        saved_start = kernel_start(labmod.partition_path(source, 2))
        result = oscar("save", "--disk", source, "--store", str(store), "--name", "win",
                       "--method", method, "--yes")
        assert result.returncode == 0, result.stderr
    target = blank_disk(SOURCE * 3 // 2, "target")
    plan = oscar("restore", "--disk", target, "--store", str(store), "--name", "win",
                 "--with-table", "--dry-run")
    result = oscar("restore", "--disk", target, "--store", str(store), "--name", "win",
                   "--with-table", "--yes")
    assert result.returncode == 0, result.stderr
    windows = labmod.partition_path(target, 2)
    start = kernel_start(windows)
    if label == "dos":
        # MBR: the Windows partition keeps its place, only its end moves; the plan says why
        assert start == saved_start, (start, saved_start)
        assert "keep their start" in plan.stdout
        size = int(Path(f"/sys/class/block/{Path(windows).name}/size").read_text())
        assert size > (200 << 20) // 512  # it grew at its end
    else:
        assert start > saved_start  # GPT: it moved (BCD names it by GUID, kept)
    assert hidden_sectors(windows) == start
    result = sh("ntfsfix", "-n", windows, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    with mounted(windows, "ntfs", readonly=True) as win:
        assert (win / "Windows" / "win.ini").read_text() == "[fonts]\n"
        if label == "dos":
            # Windows' boot configuration, read back with hivex, still names this very
            # partition of this very disk: it would start
            refs = bcd.mbr_references(win / "Boot" / "BCD")
            assert len(refs) == 3
            assert {(r.signature, r.offset) for r in refs} == {(disk_signature(target),
                                                                start * 512)}
    if label == "dos":
        assert "Check Windows' boot configuration (BCD)" in plan.stdout


def test_a_boot_configuration_naming_a_moved_partition_fails_the_restore(
        tmp_path: Path, blank_disk: Callable[..., str]) -> None:
    """The check is real: a BCD naming a place where no partition starts fails the restore
    with what it means, after the writes (which are all done)."""
    store = tmp_path / "store"
    store.mkdir()
    with ntfs_second_disk(tmp_path, "dos") as source:
        second = labmod.partition_path(source, 2)
        with mounted(second, "ntfs") as win:
            write_bcd(win / "Boot" / "BCD", disk_signature(source), 7 << 20)
        result = oscar("save", "--disk", source, "--store", str(store), "--name", "win",
                       "--yes")
        assert result.returncode == 0, result.stderr
    target = blank_disk(SOURCE, "target")
    result = oscar("restore", "--disk", target, "--store", str(store), "--name", "win",
                   "--with-table", "--yes")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "names a partition at byte 7340032, where none starts now" in result.stderr
