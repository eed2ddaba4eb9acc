"""The refusals that protect a disk (ops/safety.py) and the executor that runs them before every
write (ops/plan.py): on model disks, no device."""

from __future__ import annotations

import dataclasses

import pytest

from oscar.core.errors import TargetRefused
from oscar.disks import probe
from oscar.disks.devices import Disk, Partition
from oscar.ops import plan as planning
from oscar.ops import safety

pytestmark = pytest.mark.unit
GB = 10**9


def disk(path: str = "/dev/sda", **changes: object) -> Disk:
    made = Disk(path, 100 * GB, serial="S123", model="Disk X", pttype="dos", ptuuid="abcd",
                partitions=[Partition(f"{path}1", 1, 1 << 20, 50 * GB, fstype="ntfs"),
                            Partition(f"{path}2", 2, 51 * GB, 40 * GB, fstype="ext4",
                                      label="OSCAR")])
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def busy(model: Disk, number: int) -> Disk:
    parts = [dataclasses.replace(p, in_use=p.number == number) for p in model.partitions]
    return dataclasses.replace(model, partitions=parts)


def test_a_whole_disk_is_refused_for_each_reason() -> None:
    safety.refuse_whole_disk(disk())
    with pytest.raises(TargetRefused, match="started from") as boot:
        safety.refuse_whole_disk(disk(is_boot_medium=True), boot_hint="Boot elsewhere.")
    assert boot.value.hint == "Boot elsewhere."
    with pytest.raises(TargetRefused, match="holds the backup folder"):
        safety.refuse_whole_disk(disk(holds_store=True))
    with pytest.raises(TargetRefused, match="/dev/sda2 is mounted or in use"):
        safety.refuse_whole_disk(busy(disk(), 2))


def test_a_kept_partition_may_be_in_use() -> None:
    model = busy(disk(), 2)
    safety.refuse_busy(model.partitions, spared=frozenset({"sda2"}))
    with pytest.raises(TargetRefused, match="sda2"):
        safety.refuse_busy(model.partitions)


def plan_writing(model: Disk) -> planning.Plan:
    made = planning.Plan("t", model.identity, model.path, model.size)
    made.steps = [planning.Step("read", "read it"),
                  planning.Step("write", "write it", writes=model.path)]
    return made


def test_the_executor_finds_the_disk_again_before_each_write(
        monkeypatch: pytest.MonkeyPatch) -> None:
    confirmed = disk()
    found = {"disk": disk("/dev/sdb")}  # the same disk, renamed since the plan
    monkeypatch.setattr(probe, "resolve_disk", lambda spec, **_kw: found["disk"])
    done: list[str] = []
    checked: list[str] = []

    def check(step: planning.Step, current: Disk) -> None:
        checked.append(current.path)
        step.writes = current.path

    handlers = {"read": lambda s: done.append("read"), "write": lambda s: done.append(s.writes or "")}
    planning.execute(plan_writing(confirmed), handlers, check)
    assert done == ["read", "/dev/sdb"] and checked == ["/dev/sdb"]

    for changed, words in ((disk("/dev/sdb", size=99 * GB), "changed size"),
                           (disk(is_boot_medium=True), "started from")):
        found["disk"] = changed
        done.clear()
        with pytest.raises(TargetRefused, match=words):
            planning.execute(plan_writing(confirmed), handlers, check)
        assert done == ["read"]  # refused before the write, after what only reads


def test_a_plan_that_writes_needs_a_check() -> None:
    with pytest.raises(AssertionError):
        planning.execute(plan_writing(disk()), {"read": lambda s: None,
                                                "write": lambda s: None}, None)
