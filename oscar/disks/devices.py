"""The device model: disks and partitions as plain data, sizes in bytes, no I/O.

Probing (oscar.probe) fills it; tests build it directly.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from oscar.core.i18n import _, decimal, unit_space

BITLOCKER = "BitLocker"  # blkid's TYPE for a BitLocker volume
# Filesystems whose contents OSCAR knows how to image (anything else: raw image, on request).
KNOWN_FS = ("ntfs", "ext2", "ext3", "ext4", "vfat", "xfs", "btrfs", "exfat")


# BitLocker protectors (the ways a volume's key can be unlocked), as OSCAR names them.
PROTECTORS = ("clear-key", "tpm", "startup-key", "tpm+startup-key", "tpm+pin",
              "tpm+pin+startup-key", "recovery-password", "password", "other")


@dataclass
class BitLocker:
    """What a BitLocker volume's own metadata says (read without any key)."""

    state: str  # "encrypted", "decrypted", "encrypting", "paused", "unknown"
    cipher: str  # "AES-XTS-128", "AES-CBC-128" ...
    size: int  # bytes of the volume BitLocker covers
    protectors: list[str] = field(default_factory=list)  # PROTECTORS, in the metadata's order
    recovery_ids: list[str] = field(default_factory=list)  # GUIDs of the recovery passwords
    description: str = ""  # Windows' own words: "DESKTOP-X C: 7/4/2019"

    @property
    def unlocked_without_key(self) -> bool:
        """Protection suspended (or "waiting for activation"): the key is stored in clear."""
        return "clear-key" in self.protectors

    @property
    def recovery_key_id(self) -> str | None:
        """The 8 characters Windows' recovery screen and the Microsoft account show."""
        return self.recovery_ids[0][:8] if self.recovery_ids else None


@dataclass
class Partition:
    path: str
    number: int
    start: int  # bytes from the start of the disk
    size: int  # bytes
    fstype: str | None = None
    label: str | None = None
    uuid: str | None = None
    partuuid: str | None = None
    parttype: str | None = None
    used: int | None = None  # bytes in use inside the filesystem, when known
    mountpoints: list[str] = field(default_factory=list)
    in_use: bool = False  # mounted, active swap, or held by another device (LVM, dm)
    bitlocker: BitLocker | None = None  # read from its metadata when blkid says BitLocker

    @property
    def encrypted(self) -> bool:
        return self.fstype == BITLOCKER

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_swap(self) -> bool:
        return self.fstype == "swap"

    @property
    def known_fs(self) -> bool:
        return self.fstype in KNOWN_FS


@dataclass
class Disk:
    path: str
    size: int
    sector_size: int = 512
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    ptuuid: str | None = None
    pttype: str | None = None  # "dos" or "gpt" (blkid's names), None when blank
    backing_file: str | None = None  # loop devices
    removable: bool = False
    bus: str = ""  # "usb" (an external disk or key), "loop" (an image file), "" (inside the PC)
    partitions: list[Partition] = field(default_factory=list)
    holds_store: bool = False
    is_boot_medium: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def external(self) -> bool:
        """Plugged in from outside (USB), or an image file: what disque_usb may lay out."""
        return self.bus in ("usb", "loop") or self.removable

    @property
    def identity(self) -> str:
        """A name for this disk that does not depend on probe order (sda/sdb, nvme/usb)."""
        if self.wwn:
            return f"wwn:{self.wwn}"
        if self.serial:
            model = re.sub(r"\s+", "_", (self.model or "disk").strip())
            return f"serial:{model}_{self.serial.strip()}"
        if self.backing_file:
            return f"loop:{self.backing_file}"
        if self.ptuuid:
            return f"ptuuid:{self.ptuuid}"
        return f"path:{self.path}"

    @property
    def table_label(self) -> str:
        return {"dos": "MBR", "gpt": "GPT"}.get(self.pttype or "", "-")

    def partition(self, number: int) -> Partition | None:
        for part in self.partitions:
            if part.number == number:
                return part
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identity"] = self.identity
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Disk:
        """A disk from ``to_dict``'s output (``oscar probe --json``): a saved machine."""
        fields = {k: v for k, v in data.items() if k not in ("identity", "partitions")}
        return cls(**fields, partitions=[_partition(p) for p in data.get("partitions", [])])


def _partition(data: dict[str, Any]) -> Partition:
    fields = dict(data)
    bitlocker = fields.pop("bitlocker", None)
    return Partition(**fields, bitlocker=BitLocker(**bitlocker) if bitlocker else None)


OSCAR_LABEL = "OSCAR"


def is_oscar_filesystem(label: str | None, fstype: str | None) -> bool:
    """The PC's OSCAR partition: ext2/3/4 labelled OSCAR (what probe and oscarpart look for)."""
    return label == OSCAR_LABEL and fstype in ("ext2", "ext3", "ext4")


def partition_path(disk_path: str, number: int) -> str:
    """Kernel naming: sda→sda1, but nvme0n1→nvme0n1p1 and loop3→loop3p1 (name ends in a digit)."""
    return f"{disk_path}p{number}" if disk_path[-1].isdigit() else f"{disk_path}{number}"


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    units = (_("B"), _("KB"), _("MB"), _("GB"), _("TB"))  # French: o, ko, Mo, Go, To
    index = 0
    while abs(value) >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    number = f"{value:.0f}" if index == 0 else decimal(f"{value:.1f}")
    return f"{number}{unit_space()}{units[index]}"
