"""Growing and shrinking a restored filesystem to its new partition (ntfsresize, resize2fs).

A block image restores the filesystem at its saved size: on a bigger partition it is grown to
fill it; on a smaller one it is restored first into a partition of its saved size, then shrunk,
then the partition is cut to the new size.
"""

from __future__ import annotations

import re

from oscar.core import run
from oscar.core.errors import OscarError
from oscar.core.i18n import _

RESIZABLE = ("ntfs", "ext2", "ext3", "ext4")
_NTFS_MIN = re.compile(r"You might resize at (\d+) bytes")
_EXT_MIN = re.compile(r"minimum size of the filesystem:\s*(\d+)")
_EXT_BLOCK = re.compile(r"^Block size:\s*(\d+)", re.M)


def can_resize(fstype: str | None) -> bool:
    return fstype in RESIZABLE


def fsck_argv(fstype: str, device: str) -> list[str]:
    # resize2fs refuses a filesystem not checked since it was last mounted.
    return ["e2fsck", "-f", "-y", device]


def resize_argv(fstype: str, device: str, size: int | None) -> list[str]:
    """``size`` None: fill the partition."""
    if fstype == "ntfs":
        # --force: ntfsresize otherwise asks for confirmation and refuses a volume scheduled
        # for a check (the restored image may carry that flag from Windows).
        argv = ["ntfsresize", "--force", "--no-progress-bar"]
        if size is not None:
            argv += ["--size", str(size)]
        return [*argv, device]
    argv = ["resize2fs", device]
    if size is not None:
        argv.append(f"{size // 1024}K")
    return argv


def parse_ntfs_minimum(text: str) -> int | None:
    match = _NTFS_MIN.search(text)
    return int(match.group(1)) if match else None


def parse_ext_minimum(estimate: str, header: str) -> int | None:
    blocks = _EXT_MIN.search(estimate)
    block = _EXT_BLOCK.search(header)
    return int(blocks.group(1)) * int(block.group(1)) if blocks and block else None


def minimum(fstype: str, device: str) -> int | None:
    """The smallest size the filesystem on ``device`` can shrink to, as its tool says."""
    if fstype == "ntfs":
        return parse_ntfs_minimum(run.output(
            ["ntfsresize", "--info", "--force", "--no-progress-bar", device], check=False))
    return parse_ext_minimum(run.output(["resize2fs", "-P", device], check=False),
                             run.output(["dumpe2fs", "-h", device], check=False))


def resize(fstype: str, device: str, size: int | None) -> None:
    if not can_resize(fstype):
        raise OscarError(_("OSCAR cannot resize {fs} filesystems.").format(fs=fstype))
    if fstype != "ntfs":
        result = run.run(fsck_argv(fstype, device), check=False)
        if result.returncode not in (0, 1, 2):  # e2fsck: 1 and 2 mean errors corrected
            raise OscarError(_("The filesystem on {dev} has errors e2fsck cannot fix.").format(
                dev=device), _("Check the backup with 'oscar verify'."))
    if size is not None:
        low = minimum(fstype, device)
        if low is not None and low > size:
            raise OscarError(
                _("The filesystem on {dev} cannot shrink below {need}; its partition will be "
                  "{have}.").format(dev=device, need=_mib(low), have=_mib(size)),
                _("Choose a bigger disk, or save that partition at file level (--method "
                  "fsarchiver)."))
    run.run(resize_argv(fstype, device, size))


def _mib(value: int) -> str:
    return f"{value / (1 << 20):.0f} MiB"
