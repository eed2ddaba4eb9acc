"""Parsers of the headers of partclone and ntfsclone images.

They run before any image is handed to a tool that writes a disk: a crafted header (zero block
size, absurd counts) is refused here, having read a few hundred bytes and allocated nothing big.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from oscar.core.errors import BackupInvalid
from oscar.core.i18n import _

PARTCLONE_MAGIC = b"partclone-image\x00"
NTFSCLONE_MAGIC = b"\x00ntfsclone-image"
MAX_DEVICE = 1 << 50  # 1 PiB: anything larger is not a PC disk
PARTCLONE_HEADER_V2 = 110


@dataclass(frozen=True)
class ImageInfo:
    kind: str
    fs: str
    device_size: int
    block_size: int
    total_blocks: int
    used_blocks: int

    @property
    def used_bytes(self) -> int:
        return self.used_blocks * self.block_size


def _bad(name: str, why: str) -> BackupInvalid:
    return BackupInvalid(_("Image {name} has an invalid header: {why}").format(name=name, why=why),
                         _("The image is damaged or was not made by partclone/ntfsclone."))


def _sane(name: str, device_size: int, block_size: int, total: int, used: int) -> None:
    if block_size <= 0 or block_size & (block_size - 1) or block_size > (1 << 24):
        raise _bad(name, f"block size {block_size}")
    if not 0 < device_size <= MAX_DEVICE:
        raise _bad(name, f"device size {device_size}")
    if total <= 0 or total * block_size > device_size + block_size:
        raise _bad(name, f"total blocks {total}")
    if not 0 <= used <= total:
        raise _bad(name, f"used blocks {used} of {total}")


def parse_partclone(head: bytes, name: str = "image") -> ImageInfo:
    if len(head) < PARTCLONE_HEADER_V2 or head[:16] != PARTCLONE_MAGIC:
        raise _bad(name, "not a partclone image")
    version = head[30:34]
    if version != b"0002":
        # Version 0001 images (partclone < 0.3) are still restorable by partclone itself; we only
        # refuse what we cannot check.
        raise _bad(name, f"unsupported image version {version!r}")
    (endian,) = struct.unpack_from("<H", head, 34)
    if endian != 0xC0DE:
        raise _bad(name, "big-endian image")
    fs = head[36:52].split(b"\x00", 1)[0].decode("ascii", "replace")
    device_size, total, used, _sb_used, block_size = struct.unpack_from("<QQQQI", head, 52)
    (crc,) = struct.unpack_from("<I", head, 106)
    if zlib.crc32(head[:106]) ^ 0xFFFFFFFF != crc:
        # partclone's crc32 is the IEEE polynomial without the final inversion.
        raise _bad(name, "header checksum mismatch")
    _sane(name, device_size, block_size, total, used)
    return ImageInfo("partclone", fs, device_size, block_size, total, used)


def parse_ntfsclone(head: bytes, name: str = "image") -> ImageInfo:
    if len(head) < 50 or head[:16] != NTFSCLONE_MAGIC:
        raise _bad(name, "not an ntfsclone image")
    major, _minor, cluster, device_size, clusters, inuse, offset = struct.unpack_from(
        "<BBIqqqI", head, 16)
    if major != 10:
        raise _bad(name, f"unsupported ntfsclone image version {major}")
    if offset < 50 or offset > 4096:
        raise _bad(name, f"data offset {offset}")
    _sane(name, device_size, cluster, clusters, inuse)
    return ImageInfo("ntfsclone", "ntfs", device_size, cluster, clusters, inuse)
