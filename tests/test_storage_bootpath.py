"""The table as a PC needs it to start (issue 18, first part), on real loop disks: the MBR's
active flag, the disk signature, GPT names, GUIDs and attributes come back from a restore
with its table, on a disk of the same size and on a bigger one; a backup carries parted's
print that Clonezilla's ocs-sr needs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

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
