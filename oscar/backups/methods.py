"""What each saving method needs: the programs, per direction (one place for save and restore)."""

from __future__ import annotations

from oscar.backups.manifest import PartEntry
from oscar.engine import compress as compression
from oscar.engine import partclone


def partclone_fs(entry: PartEntry) -> str:
    """partclone's filesystem for an entry; raw images go through partclone.dd."""
    return "raw" if entry.method == "raw" else (entry.fstype or "raw")


def tools_for(entry: PartEntry, *, saving: bool) -> list[str]:
    if entry.method == "fsarchiver":
        tools = ["fsarchiver"]
    elif entry.method == "ntfsclone":
        tools = ["ntfsclone"]
    else:
        tools = [partclone.program(partclone_fs(entry))]
    if saving and entry.fstype == "ntfs":
        tools += ["ntfs-3g.probe", "ntfsinfo"]  # the hibernation and dirty checks
    codec = (compression.compress_argv if saving else compression.decompress_argv)(
        entry.compress or "none")
    if codec:
        tools.append(codec[0])
    return tools
