"""Compressors for block images: argv for each direction and Clonezilla's file suffixes."""

from __future__ import annotations

from oscar.errors import UsageError
from oscar.i18n import _

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


def test_argv(name: str, path: str) -> list[str] | None:
    """Checks a compressed file's own integrity (frame checksums, trailing CRC)."""
    if name == "zstd":
        return ["zstd", "-t", "-q", path]
    if name == "gzip":
        return ["pigz", "-t", path]
    return None
