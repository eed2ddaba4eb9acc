"""OSCAR_déploie on one PC's disk: plan (which partitions, Windows or Linux) → confirm →
each partition mounted read-write, its system made this client's, unmounted. The disk is
chosen by identity and found again before each write; the OSCAR partition, the boot medium
and a hibernated Windows are never written."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from oscar.core import tools
from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.disks import disklock
from oscar.disks.devices import Disk, Partition, is_oscar_filesystem
from oscar.engine import ntfs
from oscar.engine.mount import mounted
from oscar.ops import plan as planning
from oscar.ops import safety
from oscar.ops.personalise import linux, windows
from oscar.ops.personalise.clients import Client

log = logging.getLogger("oscar.personalise")
LINUX_FS = ("ext2", "ext3", "ext4", "xfs", "btrfs")


@dataclass
class Result:
    changes: dict[int, list[str]] = field(default_factory=dict)  # partition number → changes
    skipped: dict[int, str] = field(default_factory=dict)  # partition number → why


def candidates(disk: Disk) -> list[Partition]:
    """Partitions that may hold a system: NTFS (Windows), Linux filesystems; not OSCAR's."""
    return [p for p in disk.partitions
            if (p.fstype == "ntfs" or p.fstype in LINUX_FS)
            and not is_oscar_filesystem(p.label, p.fstype)]


def plan_personalise(disk: Disk, client: Client) -> tuple[planning.Plan, list[Partition]]:
    """One step per system partition of the disk (pure): each becomes the client's PC."""
    safety.refuse_boot_medium(disk, _("Choose the PC's disk."))
    parts = candidates(disk)
    if not parts:
        raise TargetRefused(_("{disk} has no Windows or Linux partition to personalise.")
                            .format(disk=disk.path), _("Restore or deploy a backup first."))
    safety.refuse_busy(parts)
    plan = planning.Plan(
        _("Personalise {disk} as {name} ({mac})").format(disk=disk.path, name=client.hostname,
                                                         mac=client.mac),
        disk.identity, disk.path, disk.size)
    for part in parts:
        plan.steps.append(planning.Step(
            "personalise", _("Partition {n} ({fs}): the system found on it becomes "
                             "{name}").format(n=part.number, fs=part.fstype,
                                              name=client.hostname),
            writes=part.path, params={"number": part.number, "fstype": part.fstype}))
    return plan, parts


class Personaliser:
    def __init__(self, disk: Disk, client: Client, progress: Progress,
                 join_password: str | None = None) -> None:
        self.disk = disk
        self.client = client
        self.progress = progress
        self.join_password = join_password
        self.plan, self.parts = plan_personalise(disk, client)
        self.result = Result()

    def run(self) -> Result:
        tools.require_all(["ntfs-3g", "ntfsinfo", "mount", "umount"])
        with disklock.locked(self.disk):
            planning.execute(self.plan, {"personalise": self._personalise}, self._check,
                             self.progress.step)
        return self.result

    def _check(self, step: planning.Step, disk: Disk) -> None:
        part = disk.partition(step.params["number"])
        if part is None or part.fstype != step.params["fstype"] or part.in_use:
            raise TargetRefused(_("Partition {n} of {disk} changed since it was confirmed.")
                                .format(n=step.params["number"], disk=disk.path),
                                _("Check the disks and start again."))
        step.writes = part.path

    def _personalise(self, step: planning.Step) -> None:
        assert step.writes is not None
        number, fstype = step.params["number"], step.params["fstype"]
        if fstype == "ntfs":
            ntfs.check_clean(step.writes)  # hibernated or dirty: reported, never forced
        with mounted(step.writes, fstype) as root:
            changes = self._apply(root)
        if changes is None:
            self.result.skipped[number] = _("no Windows or Linux system on it")
            log.info("partition %s: no system, left alone", step.writes)
            return
        self.result.changes[number] = changes
        for change in changes:
            log.info("partition %s: %s", step.writes, change)

    def _apply(self, root: Path) -> list[str] | None:
        if windows.is_windows_root(root):
            return windows.personalise(root, self.client, self.join_password)
        if linux.is_linux_root(root):
            return linux.personalise(root, self.client)
        return None
