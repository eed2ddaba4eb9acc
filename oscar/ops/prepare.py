"""Préparer un disque: write an OSCAR layout (Windows, Linux or dual boot, with the OSCAR
partition) onto a whole disk and format every partition. Plan → confirm → execute."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from oscar.core import run, tools
from oscar.core.i18n import _, ngettext
from oscar.core.progress import Progress
from oscar.disks import disklock
from oscar.disks.devices import Disk, human_size, is_oscar_filesystem, partition_path
from oscar.engine import layout, libparted, ptable
from oscar.ops import plan as planning
from oscar.ops import safety

log = logging.getLogger("oscar.prepare")
FSTYPE_TOOLS = {"ntfs": "mkfs.ntfs", "ext4": "mkfs.ext4", "swap": "mkswap", "vfat": "mkfs.vfat"}


@dataclass
class PrepareOptions:
    layout: str
    label: str = "dos"  # dos (MBR) or gpt


def default_label(disk: Disk) -> str:
    """MBR unless the disk is too big for it (2 TiB) or already GPT."""
    return "gpt" if disk.pttype == "gpt" or disk.size > (2 << 40) else "dos"


def check_target(disk: Disk) -> None:
    """Every reason to refuse wiping this disk (pure)."""
    safety.refuse_whole_disk(disk)


def plan_prepare(disk: Disk, opts: PrepareOptions
                 ) -> tuple[planning.Plan, list[layout.PlannedPartition]]:
    """The checks, the new layout and the steps (pure)."""
    check_target(disk)
    d = disk
    parts = layout.plan(disk.size, opts.layout, opts.label)
    names = {"windows": _("Windows only"), "linux": _("Linux only"),
             "dualboot": _("Dual boot")}
    plan = planning.Plan(_("Prepare {disk} for OSCAR ({layout})").format(
        disk=d.path, layout=names[opts.layout]), d.identity, d.path, d.size)
    plan.steps.append(planning.Step("write-table", _(
        "Write a new partition table ({label}); every partition of the disk is erased").format(
        label="GPT" if opts.label == "gpt" else "MBR"), writes=d.path))
    for part in parts:
        plan.steps.append(planning.Step(
            "format", _("Format partition {n} as {fs} \"{label}\" ({size})").format(
                n=part.number, fs=part.fstype, label=part.label, size=human_size(part.size)),
            writes=partition_path(d.path, part.number), params={"number": part.number}))
    if d.partitions:
        plan.warnings.append(ngettext(
            "the disk's {n} partition and everything on it will be lost",
            "the disk's {n} partitions and everything on them will be lost",
            len(d.partitions)).format(n=len(d.partitions)))
    for existing in d.partitions:
        if existing.label == "OSCAR":
            plan.warnings.append(_("partition {n} is an OSCAR partition: the backups on it "
                                   "will be lost too").format(n=existing.number))
    return plan, parts



class Preparer:
    def __init__(self, disk: Disk, opts: PrepareOptions, progress: Progress) -> None:
        self.disk = disk
        self.opts = opts
        self.progress = progress
        self.plan, self.parts = plan_prepare(disk, opts)

    def required_tools(self) -> list[str]:
        return ["sfdisk", "partx", "blockdev", "wipefs",
                *sorted({FSTYPE_TOOLS[p.fstype] for p in self.parts})]

    def run(self) -> None:
        tools.require_all(self.required_tools())
        with disklock.locked(self.disk):
            planning.execute(self.plan, {"write-table": self._write_table, "format": self._format},
                             self._check, self.progress.step)

    def _check(self, step: planning.Step, disk: Disk) -> None:
        """Right before writing (the same disk, found again): still not in use."""
        check_target(disk)
        self.disk = disk
        if step.action == "write-table":
            step.writes = disk.path
        else:
            step.writes = partition_path(disk.path, step.params["number"])
            ptable.ensure_node(step.writes)

    def _write_table(self, step: planning.Step) -> None:
        assert step.writes is not None
        write_table(step.writes, self.parts, self.opts.label)

    def _format(self, step: planning.Step) -> None:
        assert step.writes is not None
        part = next(p for p in self.parts if p.number == step.params["number"])
        format_partition(part, step.writes, self.progress)


def write_table(disk_path: str, parts: list[layout.PlannedPartition], label: str) -> None:
    """The new table, laid out by libparted; then no old signature anywhere."""
    # Old signatures (a previous table, filesystems at the new partitions' starts) would make
    # blkid and Windows see ghosts: wipe them, on the disk first, then in each new partition.
    run.run(["wipefs", "--all", "--quiet", disk_path])
    libparted.write_table(disk_path, parts, label)
    ptable.refresh(disk_path)
    for part in parts:
        node = partition_path(disk_path, part.number)
        ptable.ensure_node(node)
        run.run(["wipefs", "--all", "--quiet", node])
    if label == "gpt":
        for part in parts:
            if is_oscar_filesystem(part.label, part.fstype):
                # hidden (62) and never mounted automatically (63): see docs/boot-menu.md;
                # libparted has no flag for these GPT attribute bits
                run.run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", "--part-attrs",
                         disk_path, str(part.number), "GUID:62,63"])


def format_partition(part: layout.PlannedPartition, device: str, progress: Progress,
                     uuid: str | None = None) -> None:
    progress.start(_("partition {n} ({fs})").format(n=part.number, fs=part.fstype), None)
    run.run(layout.mkfs_argv(part, device, uuid))
    progress.finish()
    log.info("partition %s formatted as %s (%s)", device, part.fstype, part.label)
