"""Windows' boot configuration (the BCD store, a registry hive at Boot/BCD on the system
partition), read offline with python3-hivex: which partitions it names, and how.

On an MBR disk a partition device element names its partition by the disk's signature and the
partition's byte offset; on GPT by the partition's GUID. Layout of a partition device element
(REG_BINARY "Element" of elements 11000001, application device, and 21000001, OS device):
0x10 the device type (6: partition), 0x20 the partition's offset in bytes (MBR), 0x34 the
partition style (1: MBR), 0x38 the disk signature. Pure parsing here; reading is one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oscar.engine.registry import Hive

PARTITION_DEVICE = 6
MBR_STYLE = 1
DEVICE_ELEMENTS = ("11000001", "21000001")
ELEMENT_SIZE = 0x58
MAX_OBJECTS = 1024


@dataclass(frozen=True)
class MbrPartitionRef:
    """An MBR partition a BCD object names (to boot from, or as Windows' own partition)."""

    object: str  # the BCD object's GUID
    element: str  # 11000001 or 21000001
    signature: int  # the disk signature, as in the MBR at 0x1B8
    offset: int  # bytes from the start of the disk


def parse_device(blob: bytes) -> tuple[int, int] | None:
    """(disk signature, partition offset) of an MBR partition device element; None for any
    other device (GPT, boot device, a file, a locate device)."""
    if len(blob) < 0x3C or blob[0x10] != PARTITION_DEVICE:
        return None
    if int.from_bytes(blob[0x34:0x38], "little") != MBR_STYLE:
        return None
    return int.from_bytes(blob[0x38:0x3C], "little"), int.from_bytes(blob[0x20:0x28], "little")


def mbr_device(signature: int, offset: int) -> bytes:
    """A partition device element as Windows writes it for an MBR partition."""
    blob = bytearray(ELEMENT_SIZE)
    blob[0x10] = PARTITION_DEVICE
    blob[0x18] = 0x48
    blob[0x20:0x28] = offset.to_bytes(8, "little")
    blob[0x34:0x38] = MBR_STYLE.to_bytes(4, "little")
    blob[0x38:0x3C] = signature.to_bytes(4, "little")
    return bytes(blob)


def mbr_references(store: Path) -> list[MbrPartitionRef]:
    """Every MBR partition the BCD store at ``store`` names."""
    h = Hive(str(store))
    objects = h.node_get_child(h.root(), "Objects")
    found: list[MbrPartitionRef] = []
    if not objects:
        return found
    for obj in h.node_children(objects)[:MAX_OBJECTS]:
        elements = h.node_get_child(obj, "Elements")
        if not elements:
            continue
        for name in DEVICE_ELEMENTS:
            element = h.node_get_child(elements, name)
            value = h.node_get_value(element, "Element") if element else None
            if not value:
                continue
            parsed = parse_device(bytes(h.value_value(value)[1]))
            if parsed is not None:
                found.append(MbrPartitionRef(str(h.node_name(obj)), name, *parsed))
    return found
