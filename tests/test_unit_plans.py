"""The plans of the operations that write to a disk, built without any device from saved
machine descriptions (tests/machines.py): which steps, in which order, on which device.
The storage tier proves the same steps on real disks; here each case takes milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.core.errors import TargetRefused, UsageError
from oscar.engine import layout
from oscar.ops.bootinstall import InstallFacts, plan_install
from oscar.ops.personalise import clients as clients_file
from oscar.ops.personalise.apply import plan_personalise
from oscar.ops.prepare import PrepareOptions, plan_prepare
from oscar.ops.restore.planner import RestoreFacts, RestoreOptions, plan_restore
from oscar.ops.usbdisk import plan_usbdisk
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


# -- prepare, the USB disk, the boot menu ---------------------------------------------------
def test_prepare_erases_the_disk_then_formats_the_new_layout() -> None:
    plan, parts = plan_prepare(school_pc("/dev/sdc", 1000 * GB), PrepareOptions("dualboot"))
    assert [(s.action, s.writes) for s in plan.steps] == [
        ("write-table", "/dev/sdc"),
        *[("format", f"/dev/sdc{p.number}") for p in parts]]
    assert [p.label for p in parts if p.label == "OSCAR"] == ["OSCAR"]
    assert any("4 partitions" in w or "4 partitions" in w for w in plan.warnings)
    assert any("OSCAR" in w for w in plan.warnings[1:])  # the old OSCAR partition's backups
    gpt, _parts = plan_prepare(school_pc("/dev/sdc", 1000 * GB, blank=True),
                               PrepareOptions("windows", "gpt"))
    assert "GPT" in gpt.steps[0].label and not gpt.warnings
    for refused in (school_pc(holds_store=True), school_pc(is_boot_medium=True)):
        with pytest.raises(TargetRefused):
            plan_prepare(refused, PrepareOptions("linux"))


def test_the_usb_disk_plan_formats_copies_and_installs_grub() -> None:
    disk = school_pc("/dev/sdd", 1000 * GB, blank=True)
    parts = layout.usb_plan(disk.size, "dos")
    plan = plan_usbdisk(disk, "dos", parts, Path("/run/live/medium/live"), 900 << 20, False)
    actions = [s.action for s in plan.steps]
    assert actions[0] == "write-table" and actions[-2:] == ["copy-live", "grub"]
    assert actions.count("format") == len([p for p in parts if p.fstype != "biosboot"])
    assert plan.steps[-2].size == 900 << 20
    assert plan.steps[-2].writes == f"/dev/sdd{layout.usb_plan(disk.size, 'dos')[1].number}"
    assert any("password" in w or "mot de passe" in w for w in plan.warnings)


def install_facts(**changes: object) -> InstallFacts:
    facts = InstallFacts(school_pc(), repair=False, systems=["Windows 10", "Debian 12"],
                         live_source=Path("/media/key/live"), live_bytes=900 << 20, hide=True,
                         gap_foreign=False, password_set=True)
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def test_the_boot_menu_plan_on_a_bios_pc() -> None:
    plan = plan_install(install_facts())
    assert [(s.action, s.writes) for s in plan.steps] == [
        ("copy-live", "/dev/sda4"), ("grub-files", "/dev/sda4"), ("bios-boot", "/dev/sda"),
        ("hide", "/dev/sda"), ("menu", "/dev/sda4")]
    assert "Windows 10 | Debian 12 | OSCAR | restaure" in plan.steps[-1].label
    assert not plan.warnings


def test_an_efi_partition_with_debians_grub_is_said_in_the_plan() -> None:
    """Debian's signed GRUB looks for its prefix /EFI/debian first, from any folder: on a PC
    where a Debian is installed too it would open that Debian's menu, not OSCAR's."""
    assert not plan_install(install_facts()).warnings
    plan = plan_install(install_facts(esp_has_debian=True))
    assert len(plan.warnings) == 1 and "EFI/debian" in plan.warnings[0]


def test_a_repair_keeps_the_live_system_and_says_what_it_replaces() -> None:
    plan = plan_install(install_facts(repair=True, live_source=None, hide=False,
                                      gap_foreign=True, password_set=False, systems=[]))
    assert [s.action for s in plan.steps] == ["grub-files", "bios-boot", "menu"]
    assert len(plan.warnings) == 3  # no system, another program's sectors, no password


def test_the_boot_menu_refuses_a_disk_without_oscar_partition() -> None:
    bare = school_pc()
    bare.partitions[3].label = "DATA"
    with pytest.raises(TargetRefused, match="no OSCAR partition"):
        plan_install(install_facts(disk=bare))


def test_personalising_touches_each_system_partition_only() -> None:
    room, problems = clients_file.parse("clients:\n  - mac: \"52:54:00:12:34:56\"\n"
                                        "    hostname: B12-PC07\n",
                                        "salle-b12.yaml")
    assert not problems
    plan, parts = plan_personalise(school_pc(), room.clients[0])
    assert [(s.action, s.writes, s.params["fstype"]) for s in plan.steps] == [
        ("personalise", "/dev/sda1", "ntfs"), ("personalise", "/dev/sda2", "ext4")]
    assert "B12-PC07" in plan.title and [p.number for p in parts] == [1, 2]
    with pytest.raises(TargetRefused, match="no Windows or Linux partition"):
        plan_personalise(school_pc(blank=True), room.clients[0])
