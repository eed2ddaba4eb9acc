"""OSCAR's manifest of a backup: source machine, partition identities, tool versions, sizes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oscar.errors import BackupInvalid
from oscar.i18n import _

FILE = "oscar-manifest.json"
FORMAT = "oscar-backup/1"
MAX_SIZE = 4 << 20


@dataclass
class PartEntry:
    number: int
    name: str  # kernel name on the source (sda1, nvme0n1p1, loop3p1)
    start: int
    size: int
    fstype: str | None
    label: str | None
    uuid: str | None
    partuuid: str | None
    role: str  # "data", "swap", "store" (holds backups: recorded, never imaged), "skipped"
    method: str | None = None  # fsarchiver, ntfsclone, partclone, raw
    compress: str | None = None
    files: list[str] = field(default_factory=list)
    used: int | None = None
    stored: int = 0  # bytes of image files


@dataclass
class Manifest:
    name: str
    created: str
    hostname: str
    source: dict[str, Any]
    table_files: list[str]
    partitions: list[PartEntry]
    tools: dict[str, str]
    oscar_version: str
    state: str = "complete"
    format: str = FORMAT
    notes: list[str] = field(default_factory=list)

    def part(self, number: int) -> PartEntry | None:
        return next((p for p in self.partitions if p.number == number), None)

    @property
    def imaged(self) -> list[PartEntry]:
        return [p for p in self.partitions if p.files]

    @property
    def stored_bytes(self) -> int:
        return sum(p.stored for p in self.partitions)

    @property
    def all_files(self) -> list[str]:
        return [*self.table_files, *(f for p in self.partitions for f in p.files)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def load(folder: Path) -> Manifest:
    path = folder / FILE
    if not path.is_file():
        raise BackupInvalid(_("{folder} has no OSCAR manifest.").format(folder=folder),
                            _("It is not an OSCAR backup, or it is incomplete."))
    if path.stat().st_size > MAX_SIZE:
        raise BackupInvalid(_("The manifest of {folder} is too large.").format(folder=folder),
                            _("The backup is damaged."))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        parts = [PartEntry(**p) for p in data.pop("partitions")]
        return Manifest(partitions=parts, **data)
    except (ValueError, TypeError, KeyError) as exc:
        raise BackupInvalid(_("The manifest of {folder} is unreadable: {why}").format(
            folder=folder, why=exc), _("The backup is damaged.")) from exc
