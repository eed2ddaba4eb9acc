"""The refusals that protect a disk, written once.

Every operation that writes to a disk checks the same things: it is not the medium OSCAR started
from, not the disk holding the backups (unless the operation keeps that partition), none of the
partitions it writes is mounted or in use — when the plan is built (pure checks on the model) —
and, right before each write, that the disk found again by its identity is the one that was
confirmed, with the same size (`found_again`, run by ``plan.execute`` before every step that
writes). Each operation adds only its own checks (a partition too small, an OSCAR partition
that moved...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.disks import probe
from oscar.disks.devices import Disk, Partition

log = logging.getLogger("oscar.plan")


def refuse_boot_medium(disk: Disk, hint: str | None = None) -> None:
    if disk.is_boot_medium:
        raise TargetRefused(_("{disk} is the disk OSCAR started from.").format(disk=disk.path),
                            hint or _("Choose the PC's disk, not the OSCAR key or the live system."))


def refuse_backup_disk(disk: Disk, message: str | None = None) -> None:
    """For what erases the whole disk: the disk holding the backup folder is never one."""
    if disk.holds_store:
        raise TargetRefused(message or _("{disk} holds the backup folder; preparing it would "
                                         "erase the backups.").format(disk=disk.path),
                            _("Copy the backups elsewhere first, or choose another disk."))


def refuse_busy(partitions: Iterable[Partition], hint: str | None = None,
                spared: frozenset[str] = frozenset()) -> None:
    """A partition mounted or in use (swap, a holder) is never written; ``spared``: partitions
    the operation keeps as they are (the backups' own partition)."""
    for part in partitions:
        if part.in_use and part.name not in spared:
            raise TargetRefused(_("Partition {dev} is mounted or in use.").format(dev=part.path),
                                hint or _("Unmount it first."))


def refuse_whole_disk(disk: Disk, *, boot_hint: str | None = None,
                      store_message: str | None = None, busy_hint: str | None = None) -> None:
    """Everything that forbids erasing a whole disk (prepare, the USB disk)."""
    refuse_boot_medium(disk, boot_hint)
    refuse_backup_disk(disk, store_message)
    refuse_busy(disk.partitions, busy_hint)


def found_again(identity: str, size: int, confirmed_path: str,
                store_paths: list[str] | None = None) -> Disk:
    """The confirmed disk, found again by identity right before a write (its /dev name may have
    changed; another disk may have taken it): the same size, and not the boot medium."""
    disk = probe.resolve_disk(identity, store_paths=store_paths or [], with_usage=False)
    if disk.size != size:
        raise TargetRefused(_("The disk {identity} changed size since it was confirmed.").format(
            identity=identity), _("Check the disks and start again."))
    refuse_boot_medium(disk, _("Choose the PC's disk."))
    if disk.path != confirmed_path:
        log.warning("disk %s moved from %s to %s", identity, confirmed_path, disk.path)
    return disk
