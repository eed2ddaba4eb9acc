"""Compressors for block images: argv for each direction and Clonezilla's file suffixes."""

from __future__ import annotations

from oscar.core.errors import UsageError
from oscar.core.i18n import _

COMPRESSORS = ("zstd", "gzip", "none")
# Clonezilla's suffixes, so its restore finds our images (and we find its).
SUFFIX = {"zstd": "zst", "gzip": "gz", "none": "uncomp"}
FROM_SUFFIX = {"zst": "zstd", "gz": "gzip", "uncomp": "none"}
ZSTD_LEVEL = 3


def check(name: str) -> str:
    if name not in COMPRESSORS:
        raise UsageError(_("Unknown compression '{name}'.").format(name=name),
                         _("Choose one of: {choices}.").format(choices=", ".join(COMPRESSORS)))
    return name


LEVELS = {"zstd": (1, 19), "gzip": (1, 9)}
# The first bytes of each compressed format, for images whose name does not say (Clonezilla's
# ntfsclone images); those OSCAR cannot read are named, to be refused by name.
MAGIC = ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"),
         (b"\xfd7zXZ\x00", "xz"), (b"\x04\x22\x4d\x18", "lz4"), (b"\x89LZO", "lzop"))


def from_content(head: bytes) -> str:
    """The compressor that made a file starting with ``head``; "none" when none did."""
    return next((name for magic, name in MAGIC if head.startswith(magic)), "none")


def check_level(name: str, level: int | None) -> int | None:
    """A level the compressor takes (zstd would print its usage text for 99, pigz for 0)."""
    if level is None:
        return None
    low, high = LEVELS.get(name, (0, -1))
    if not low <= level <= high:
        raise UsageError(_("Compression level {level} does not exist for {name}.").format(
            level=level, name=name),
            _("zstd takes 1 to 19, gzip 1 to 9; 'none' takes no level."))
    return level


def compress_argv(name: str, level: int | None = None) -> list[str] | None:
    if name == "zstd":
        return ["zstd", "-T0", f"-{level or ZSTD_LEVEL}", "-q", "-c"]
    if name == "gzip":
        return ["pigz", "-c", f"-{level or 6}"]
    return None


def decompress_argv(name: str) -> list[str] | None:
    if name == "zstd":
        return ["zstd", "-d", "-q", "-c"]
    if name == "gzip":
        return ["pigz", "-d", "-c"]
    return None
