"""Checks for text that comes from outside (a backup folder, a disk, the network) before it
becomes a path, a device name or a line on the screen. Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

# A kernel block device name as the manifest records it (sda, nvme0n1, loop3, mmcblk0,
# nvme0n1p2): it builds the table files' names, so never a path.
KERNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
MAX_FILE_NAME = 255


def has_control(text: str) -> bool:
    """Control and format characters: newlines, escapes that would drive the terminal,
    bidirectional overrides that would show a name as another."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text)


def is_kernel_name(text: str) -> bool:
    return KERNEL_NAME.fullmatch(text) is not None and ".." not in text


def is_file_name(text: str) -> bool:
    """One plain file name inside a folder: no separator, not '.' or '..', nothing hidden in
    it that the screen would not show."""
    return (0 < len(text.encode("utf-8", "surrogatepass")) <= MAX_FILE_NAME
            and "/" not in text and "\\" not in text and text not in (".", "..")
            and not has_control(text))


def shown(text: str, limit: int = 80) -> str:
    """A value from outside, fit to be printed in a message: control characters made visible,
    and cut to ``limit`` characters."""
    cleaned = "".join(ch if not has_control(ch) else repr(ch)[1:-1] for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"
