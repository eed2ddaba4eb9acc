"""The plans of the operations that write to a disk, built without any device from saved
machine descriptions (tests/machines.py): which steps, in which order, on which device.
The storage tier proves the same steps on real disks; here each case takes milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.core.errors import TargetRefused, UsageError
from oscar.ops.restore.planner import RestoreFacts, RestoreOptions, plan_restore
from tests.machines import GB, saved_backup, saved_table, school_pc

pytestmark = pytest.mark.unit
NAME = "2026-11-20-SALLE-B12-PC07"


def steps(facts: RestoreFacts) -> list[tuple[str, str | None, int | None]]:
    made = plan_restore(facts)
    return [(s.action, s.writes, s.params.get("number")) for s in made.plan.steps]


def with_table(disk_size: int = 500 * GB, **options: object) -> RestoreFacts:
    opts = RestoreOptions(NAME, with_table=True, **options)  # type: ignore[arg-type]
    target = school_pc("/dev/sdc", disk_size, blank=disk_size != 500 * GB) \
        if disk_size != 500 * GB else school_pc()
    return RestoreFacts(target, saved_backup(), opts, saved_table=saved_table())


def test_restore_with_the_table_onto_the_same_disk() -> None:
    assert steps(with_table()) == [
        ("verify", None, None), ("write-table", "/dev/sda", None),
        ("restore-part", "/dev/sda1", 1), ("restore-part", "/dev/sda2", 2),
        ("make-swap", "/dev/sda3", 3), ("prepare-store", "/dev/sda4", 4),
        ("check-boot-config", None, None)]  # Windows on an MBR disk: its BCD is checked


def test_restore_of_one_partition_writes_only_it() -> None:
    facts = RestoreFacts(school_pc(), saved_backup(), RestoreOptions(NAME, parts=[2]))
    assert steps(facts) == [("verify", None, None), ("restore-part", "/dev/sda2", 2)]
    with pytest.raises(UsageError, match="no saved partition 3"):
        plan_restore(RestoreFacts(school_pc(), saved_backup(), RestoreOptions(NAME, parts=[3])))


def test_a_bigger_disk_grows_the_block_images_after_them() -> None:
    made = plan_restore(with_table(1000 * GB, layout="grow-last"))
    actions = [(s.action, s.params.get("number"), s.params.get("size")) for s in made.plan.steps]
    assert actions[:3] == [("verify", None, None), ("write-table", None, None),
                           ("restore-part", 1, None)]
    assert ("resize-fs", 2, None) in actions  # Linux, the last data partition, grows
    assert made.fitted is not None and not made.fitted.same
    assert any("561.0 GB" in line for line in made.plan.details)


def test_a_smaller_disk_shrinks_each_block_image_at_its_saved_size_first() -> None:
    made = plan_restore(with_table(400 * GB))
    actions = [s.action for s in made.plan.steps]
    # partition 1: a table where it has its saved size, restored, shrunk; then the next table
    assert actions == ["verify", "write-table", "restore-part", "resize-fs", "write-table",
                       "restore-part", "resize-fs", "write-table", "make-swap",
                       "prepare-store", "check-boot-config"]
    shrink = [s for s in made.plan.steps if s.action == "resize-fs"]
    assert all(s.params["size"] and s.params["size"] < 120 * GB for s in shrink)


def test_an_image_that_cannot_shrink_in_place_is_shrunk_in_a_file_first() -> None:
    facts = with_table(100 * GB, resize_store=True)
    facts.scratch_room = {Path("/srv/backups"): 1 * GB, Path("/tmp"): 80 * GB}
    made = plan_restore(facts)
    assert made.scratch_folder == Path("/tmp")  # the first folder with room
    actions = [s.action for s in made.plan.steps]
    assert actions[:4] == ["verify", "shrink-scratch", "shrink-scratch", "write-table"]
    assert all(s.writes is None for s in made.plan.steps[:3])  # nothing written before
    facts.scratch_room = {}
    with pytest.raises(TargetRefused, match="must be shrunk before it fits"):
        plan_restore(facts)


def test_a_deployment_cannot_shrink_in_a_file_and_says_so_for_the_room() -> None:
    facts = with_table(100 * GB, resize_store=True, deployment=True)
    facts.from_folder = False
    with pytest.raises(TargetRefused) as refused:
        plan_restore(facts)
    assert "procedure formate" in refused.value.hint


def test_a_disk_too_small_is_refused_with_the_numbers() -> None:
    with pytest.raises(TargetRefused, match="315.0 GB") as refused:
        plan_restore(with_table(100 * GB))
    assert "--resize-oscar" in refused.value.hint


def test_the_disk_holding_the_backups_keeps_its_oscar_partition() -> None:
    facts = RestoreFacts(school_pc(holds_store=True), saved_backup(),
                         RestoreOptions(NAME, with_table=True), saved_table=saved_table(),
                         store_parts=frozenset({"sda4"}), boot_menu=True)
    made = plan_restore(facts)
    assert [s.action for s in made.plan.steps] == [
        "verify", "write-table", "restore-part", "restore-part", "make-swap",
        "check-boot-config", "boot-menu"]  # no prepare-store; the boot menu written again
    assert any("holds the backups" in w or "sauvegardes" in w for w in made.plan.warnings)


def test_format_only_writes_empty_filesystems() -> None:
    assert [a for a, _w, _n in steps(with_table(format_only=True))] == [
        "verify", "write-table", "format-part", "format-part", "make-swap", "prepare-store"]


def test_a_clonezilla_folder_is_verified_with_its_sum_files() -> None:
    facts = RestoreFacts(school_pc(), saved_backup(), RestoreOptions(NAME),
                         clonezilla_sums=["MD5SUMS", "SHA1SUMS"])
    made = plan_restore(facts)
    assert "MD5SUMS, SHA1SUMS" in made.plan.steps[0].label


def test_the_boot_medium_and_a_busy_partition_are_refused() -> None:
    with pytest.raises(TargetRefused, match="started from"):
        plan_restore(RestoreFacts(school_pc(is_boot_medium=True), saved_backup(),
                                  RestoreOptions(NAME)))
    busy = school_pc()
    busy.partitions[1].in_use = True
    with pytest.raises(TargetRefused, match="sda2 is mounted or in use"):
        plan_restore(RestoreFacts(busy, saved_backup(), RestoreOptions(NAME, parts=[2])))
