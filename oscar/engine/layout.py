"""Disk layouts for OSCAR (pure): Windows only, Linux only or dual boot, each with the hidden
OSCAR partition, as the seed's "Préparation du disque dur pour OSCAR" shows them.

Sizes: the OSCAR partition takes a third of the disk (it keeps several backups of the PC's
systems, which compress to about half their used space); swap is 1/16 of the disk, at most
4 GiB; in dual boot Windows gets 60 % of the rest. Everything is aligned on 1 MiB. On GPT an EFI
system partition (260 MiB) comes first, as UEFI firmware and Windows expect.
"""

from __future__ import annotations

from dataclasses import dataclass

from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.disks.devices import human_size

MIB = 1 << 20
GIB = 1 << 30
LAYOUTS = ("windows", "linux", "dualboot")
ESP_SIZE = 260 * MIB
MBR_LIMIT = (1 << 32) * 512  # 32-bit sector numbers
MIN_PART = 64 * MIB
@dataclass
class PlannedPartition:
    number: int
    start: int  # bytes
    size: int  # bytes
    fstype: str  # ntfs, ext4, swap, vfat, biosboot (no filesystem)
    label: str
    bootable: bool = False  # MBR's active flag: some BIOSes start no USB disk without one


def _align_down(n: int) -> int:
    return n // MIB * MIB


def plan(disk_size: int, layout: str, label: str = "dos") -> list[PlannedPartition]:
    if layout not in LAYOUTS:
        raise TargetRefused(_("Unknown layout '{name}'.").format(name=layout),
                            _("Choose one of: {choices}.").format(choices=", ".join(LAYOUTS)))
    if label == "dos" and disk_size > MBR_LIMIT:
        raise TargetRefused(_("An MBR table cannot use more than 2 TiB; this disk has {size}.").format(
            size=human_size(disk_size)), _("Choose GPT."))
    # The first MiB holds the table (and GRUB's core on MBR); GPT keeps 33 sectors at the end.
    usable_end = _align_down(disk_size - (MIB if label == "gpt" else 0))
    position = MIB
    wanted: list[tuple[str, str, int]] = []  # fstype, label, size (0: the rest)
    if label == "gpt":
        wanted.append(("vfat", "EFI", ESP_SIZE))
    oscar = _align_down(disk_size // 3)
    swap = min(4 * GIB, _align_down(disk_size // 16))
    system = usable_end - MIB - oscar - (ESP_SIZE if label == "gpt" else 0)
    if layout == "windows":
        wanted.append(("ntfs", "Windows", 0))
    elif layout == "linux":
        wanted += [("ext4", "Linux", 0), ("swap", "swap", swap)]
    else:
        windows = _align_down((system - swap) * 6 // 10)
        wanted += [("ntfs", "Windows", windows), ("ext4", "Linux", 0), ("swap", "swap", swap)]
    wanted.append(("ext4", "OSCAR", oscar))
    fixed = sum(size for _fs, _label, size in wanted)
    rest = usable_end - position - fixed
    parts = []
    for number, (fstype, name, size) in enumerate(wanted, 1):
        size = size or _align_down(rest)
        parts.append(PlannedPartition(number, position, size, fstype, name))
        position += size
    small = [p for p in parts if p.size < MIN_PART]
    if small or position > usable_end:
        raise TargetRefused(
            _("The disk ({size}) is too small for this layout.").format(size=human_size(disk_size)),
            _("Choose a bigger disk, or a layout with fewer partitions."))
    return parts


def mkfs_argv(part: PlannedPartition, device: str, uuid: str | None = None) -> list[str]:
    """``uuid``: the filesystem's UUID (ext4) or volume id (vfat, 8 hex digits), chosen in
    advance when a boot loader must find the filesystem before it exists."""
    if part.fstype == "ntfs":
        return ["mkfs.ntfs", "--quick", "--force", "--label", part.label, device]
    if part.fstype == "ext4":
        return ["mkfs.ext4", "-q", "-F", "-L", part.label, *(["-U", uuid] if uuid else []),
                device]
    if part.fstype == "swap":
        return ["mkswap", "-L", part.label, device]
    if part.fstype == "vfat":
        return ["mkfs.vfat", "-F", "32", "-n", part.label[:11].upper(),
                *(["-i", uuid] if uuid else []), device]
    raise ValueError(f"no filesystem on a {part.fstype} partition")


# -- disque_usb ---------------------------------------------------------------------------------
# The seed's external disk: the OSCAR boot partition (2 GB), an ext4 backup partition of half
# the disk (a PC saved straight onto it) and NTFS for the rest (every backup of the school,
# readable from Windows). A small EFI partition beside the boot partition lets UEFI PCs start
# it; on GPT (disks over 2 TiB) a BIOS boot partition holds GRUB's code for BIOS PCs.
USB_MIN_SIZE = 500 * 10**9  # "500 Go mini", as disk makers count
USB_SMALLEST = 4 * GIB  # with --allow-small: what the layout needs at all
USB_BOOT_SIZE = 2 * GIB
USB_ESP_SIZE = 256 * MIB
USB_BIOSBOOT_SIZE = MIB
USB_LABELS = {"esp": "OSCAR-EFI", "boot": "OSCAR-BOOT", "save": "OSCAR-SAVE",
              "school": "OSCAR-ECOLE"}


def usb_label(disk_size: int) -> str:
    return "gpt" if disk_size > MBR_LIMIT else "dos"


def usb_plan(disk_size: int, label: str | None = None) -> list[PlannedPartition]:
    label = label or usb_label(disk_size)
    if label == "dos" and disk_size > MBR_LIMIT:
        raise TargetRefused(_("An MBR table cannot use more than 2 TiB; this disk has {size}.").format(
            size=human_size(disk_size)), _("Choose GPT."))
    if disk_size < USB_SMALLEST:
        raise TargetRefused(_("The disk ({size}) is too small for this layout.").format(
            size=human_size(disk_size)), _("Choose a bigger disk."))
    usable_end = _align_down(disk_size - (MIB if label == "gpt" else 0))
    wanted: list[tuple[str, str, int, bool]] = []
    if label == "gpt":
        wanted.append(("biosboot", "BIOS boot", USB_BIOSBOOT_SIZE, False))
    wanted += [("vfat", USB_LABELS["esp"], USB_ESP_SIZE, False),
               ("ext4", USB_LABELS["boot"], USB_BOOT_SIZE, True),
               ("ext4", USB_LABELS["save"], _align_down(disk_size // 2), False),
               ("ntfs", USB_LABELS["school"], 0, False)]
    position = MIB
    rest = usable_end - position - sum(size for _fs, _name, size, _boot in wanted)
    parts = []
    for number, (fstype, name, size, bootable) in enumerate(wanted, 1):
        size = size or _align_down(rest)
        parts.append(PlannedPartition(number, position, size, fstype, name, bootable))
        position += size
    if position > usable_end or parts[-1].size < MIN_PART:
        raise TargetRefused(_("The disk ({size}) is too small for this layout.").format(
            size=human_size(disk_size)), _("Choose a bigger disk."))
    return parts
