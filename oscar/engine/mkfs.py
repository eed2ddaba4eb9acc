"""Formatting an empty partition like the server's (the procedure "table")."""

from __future__ import annotations

from oscar.core.errors import UsageError
from oscar.core.i18n import _


def mkfs_argv(fstype: str, device: str, *, label: str | None, uuid: str | None,
              start_sector: int | None = None) -> list[str]:
    if fstype in ("ext2", "ext3", "ext4"):
        argv = [f"mkfs.{fstype}", "-q", "-F"]
        if label:
            argv += ["-L", label]
        if uuid:
            argv += ["-U", uuid]  # the restored systems find their partitions by UUID
        return [*argv, device]
    if fstype == "ntfs":
        argv = ["mkfs.ntfs", "-Q", "-F"]
        if label:
            argv += ["-L", label]
        if start_sector is not None:
            # mkfs.ntfs cannot read a loop or USB partition's geometry; Windows wants it set.
            argv += ["-p", str(start_sector), "-H", "255", "-S", "63"]
        return [*argv, device]
    if fstype == "vfat":
        argv = ["mkfs.vfat"]
        if label:
            argv += ["-n", label[:11]]
        if uuid and len(uuid.replace("-", "")) == 8:
            argv += ["-i", uuid.replace("-", "")]
        return [*argv, device]
    if fstype == "xfs":
        argv = ["mkfs.xfs", "-q", "-f"]
        if label:
            argv += ["-L", label[:12]]
        if uuid:
            argv += ["-m", f"uuid={uuid}"]
        return [*argv, device]
    if fstype == "btrfs":
        argv = ["mkfs.btrfs", "-q", "-f"]
        if label:
            argv += ["-L", label]
        if uuid:
            argv += ["-U", uuid]
        return [*argv, device]
    raise UsageError(_("OSCAR cannot format {fs}.").format(fs=fstype),
                     _("Use the procedure formate, which restores the partition instead."))
