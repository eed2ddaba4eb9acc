"""BitLocker's own metadata, read without any key: state, cipher, protectors, recovery key IDs.

The layout is the one libbde documents and dislocker reads (a volume header whose boot sector
says "-FVE-FS-", or "MSWIN4.1" for BitLocker To Go, naming three copies of the FVE metadata
block). Everything here comes from a disk: every offset and length is bounded before use, and a
block that does not parse is one None, never an exception, so the next copy is tried.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable

from oscar.disks.devices import BitLocker

SIGNATURE = b"-FVE-FS-"
TOGO_SIGNATURE = b"MSWIN4.1"
BLOCK_READ = 64 * 1024  # more than any metadata block Windows writes (under 1 KiB in practice)
BLOCK_HEADER = 64
METADATA_HEADER = 48
ENTRY_HEADER = 8
VMK_VALUE = 8  # an entry's value type: a volume master key, protected one way
DESCRIPTION_VALUE = 2  # UTF-16 text
VMK_ENTRY = 2
DESCRIPTION_ENTRY = 7

STATES = {1: "decrypted", 2: "encrypting", 3: "encrypting", 4: "encrypted", 5: "paused"}
CIPHERS = {0x8000: "AES-CBC-128 (diffuser)", 0x8001: "AES-CBC-256 (diffuser)",
           0x8002: "AES-CBC-128", 0x8003: "AES-CBC-256", 0x8004: "AES-XTS-128",
           0x8005: "AES-XTS-256"}
PROTECTIONS = {0x0000: "clear-key", 0x0100: "tpm", 0x0200: "startup-key",
               0x0300: "tpm+startup-key", 0x0500: "tpm+pin", 0x0700: "tpm+pin+startup-key",
               0x0800: "recovery-password", 0x2000: "password"}

ReadAt = Callable[[int, int], bytes]


def metadata_offsets(boot_sector: bytes, volume_size: int) -> list[int]:
    """The offsets of the metadata copies named by the volume's boot sector, in order, the
    impossible ones left out (an empty list: not a BitLocker volume OSCAR can read)."""
    if len(boot_sector) < 512:
        return []
    if boot_sector[3:11] == SIGNATURE:
        where = 176
    elif boot_sector[3:11] == TOGO_SIGNATURE:
        where = 440
    else:
        return []
    offsets = struct.unpack_from("<3Q", boot_sector, where)
    return [o for o in offsets if 0 < o and o + BLOCK_HEADER + METADATA_HEADER <= volume_size]


def parse_block(block: bytes) -> BitLocker | None:
    """One FVE metadata block (its 64-byte header, then the metadata), or None."""
    if len(block) < BLOCK_HEADER + METADATA_HEADER or block[:8] != SIGNATURE:
        return None
    _size, version, state, _next, volume_size = struct.unpack_from("<HHHHQ", block, 8)
    if version != 2:  # Vista's format: detected (blkid), not described
        return BitLocker(STATES.get(state, "unknown"), "?", volume_size)
    meta = block[BLOCK_HEADER:]
    meta_size, meta_version, header_size = struct.unpack_from("<III", meta, 0)
    if meta_version != 1 or header_size != METADATA_HEADER or not (
            METADATA_HEADER <= meta_size <= len(meta)):
        return None
    (method,) = struct.unpack_from("<H", meta, 36)
    info = BitLocker(STATES.get(state, "unknown"), CIPHERS.get(method, f"0x{method:04x}"),
                     volume_size)
    pos = METADATA_HEADER
    while pos + ENTRY_HEADER <= meta_size:
        entry_size, entry_type, value_type, _v = struct.unpack_from("<HHHH", meta, pos)
        if entry_size < ENTRY_HEADER or pos + entry_size > meta_size:
            return None
        _entry(info, entry_type, value_type, meta[pos + ENTRY_HEADER:pos + entry_size])
        pos += entry_size
    return info


def _entry(info: BitLocker, entry_type: int, value_type: int, value: bytes) -> None:
    if entry_type == VMK_ENTRY and value_type == VMK_VALUE and len(value) >= 28:
        key_id = str(uuid.UUID(bytes_le=value[:16])).upper()
        (protection,) = struct.unpack_from("<H", value, 26)
        kind = PROTECTIONS.get(protection, "other")
        info.protectors.append(kind)
        if kind == "recovery-password":
            info.recovery_ids.append(key_id)
    elif entry_type == DESCRIPTION_ENTRY and value_type == DESCRIPTION_VALUE:
        text = value.decode("utf-16-le", "replace").rstrip("\x00").strip()
        info.description = "".join(c if c.isprintable() else "?" for c in text)[:120]


def read(read_at: ReadAt, volume_size: int) -> BitLocker | None:
    """The first copy of the metadata that parses; None when none does."""
    for offset in metadata_offsets(read_at(0, 512), volume_size):
        info = parse_block(read_at(offset, min(BLOCK_READ, volume_size - offset)))
        if info is not None:
            return info
    return None


def read_device(path: str, volume_size: int) -> BitLocker | None:
    """``read`` on a partition (or an image file); None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            def read_at(offset: int, length: int) -> bytes:
                fh.seek(offset)
                return fh.read(length)

            return read(read_at, volume_size)
    except (OSError, struct.error):
        return None


def summary(info: BitLocker | None) -> str:
    """One line for lists and plans (technical words, the same in both languages)."""
    if info is None:
        return "BitLocker"
    keys = ", ".join(dict.fromkeys(info.protectors)) or "?"
    text = f"BitLocker {info.cipher}, {info.state}, keys: {keys}"
    if info.recovery_key_id:
        text += f", recovery key ID {info.recovery_key_id}"
    return text
