"""Registry of the outside programs OSCAR drives, and the Debian package of each.

A missing tool is reported by name (with the package to install) before work starts.
"""

from __future__ import annotations

import os
import shutil

from oscar.core import settings
from oscar.core.errors import ToolMissing
from oscar.core.i18n import _


def search_path() -> str:
    """Many tools live in /sbin or /usr/sbin, which a non-login root shell may not have on PATH.
    OSCAR_TOOL_PATH replaces the whole search path (tests use it to prove missing tools are named)."""
    return settings.TOOL_PATH.value() or os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin",
         # grub-bios-setup is not on any PATH in Debian (grub-install calls it from there)
         "/usr/lib/grub/i386-pc"])



PACKAGES: dict[str, str] = {
    "xinit": "xinit",
    "Xorg": "xserver-xorg-core",
    "fsarchiver": "fsarchiver",
    "ntfsclone": "ntfs-3g",
    "ntfs-3g": "ntfs-3g",
    "ntfs-3g.probe": "ntfs-3g",
    "ntfsresize": "ntfs-3g",
    "ntfsfix": "ntfs-3g",
    "ntfsinfo": "ntfs-3g",
    "ntfscat": "ntfs-3g",
    "debugfs": "e2fsprogs",
    "ntfslabel": "ntfs-3g",
    "mkfs.ntfs": "ntfs-3g",
    "partclone.ntfs": "partclone",
    "partclone.ext4": "partclone",
    "partclone.extfs": "partclone",
    "partclone.fat": "partclone",
    "partclone.btrfs": "partclone",
    "partclone.xfs": "partclone",
    "partclone.dd": "partclone",
    "partclone.chkimg": "partclone",
    "partclone.ntfsfixboot": "partclone",
    "sfdisk": "fdisk",
    "sgdisk": "gdisk",
    "parted": "parted",
    "blkid": "util-linux",
    "losetup": "mount",
    "partx": "util-linux",
    "blockdev": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "wipefs": "util-linux",
    "mkswap": "util-linux",
    "cfdisk": "fdisk",
    "gparted": "gparted",
    "zstd": "zstd",
    "pigz": "pigz",
    "gzip": "gzip",
    "mkfs.ext4": "e2fsprogs",
    "mkfs.ext2": "e2fsprogs",
    "e2fsck": "e2fsprogs",
    "dumpe2fs": "e2fsprogs",
    "setfattr": "attr",
    "getfattr": "attr",
    "hivexregedit": "libhivex-bin",
    "mkfs.vfat": "dosfstools",
    # building and booting the live image
    "debootstrap": "debootstrap",
    "chroot": "coreutils",
    "mksquashfs": "squashfs-tools",
    "grub-mkrescue": "grub-common",
    "grub-script-check": "grub-common",
    "grub-mkimage": "grub-common",
    "grub-bios-setup": "grub-pc-bin",
    "mdir": "mtools",
    "mcopy": "mtools",
    "mmd": "mtools",
    "mdel": "mtools",
    "mren": "mtools",
    "mtype": "mtools",
    "efibootmgr": "efibootmgr",
    "xorriso": "xorriso",
    "msgfmt": "gettext",
    "qemu-system-x86_64": "qemu-system-x86",
    # deployment
    "udp-sender": "udpcast",
    "udp-receiver": "udpcast",
    "lighttpd": "lighttpd",
    # network boot
    "dnsmasq": "dnsmasq-base",
    "ip": "iproute2",
    "ss": "iproute2",
    "systemctl": "systemd",
    "mkfs.xfs": "xfsprogs",
    "mkfs.btrfs": "btrfs-progs",
}


def which(name: str) -> str | None:
    return shutil.which(name, path=search_path())


def require(name: str) -> str:
    """Absolute path of ``name`` or ToolMissing naming the program and its package."""
    path = which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        raise ToolMissing(
            _("The program {name} is missing.").format(name=name),
            _("Install it: apt-get install {package}").format(package=package),
        )
    return path


def require_all(names: list[str]) -> None:
    """Check every tool a plan needs before the first step runs."""
    for name in names:
        require(name)
