"""OSCAR's manifest of a backup: source machine, partition identities, tool versions, sizes."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oscar.core import safetext
from oscar.core.errors import BackupInvalid, os_reason
from oscar.core.i18n import _

FILE = "oscar-manifest.json"
FORMAT = "oscar-backup/1"
MAX_SIZE = 4 << 20
STATES = ("complete",)
ROLES = ("data", "swap", "store", "skipped")
METHODS = ("fsarchiver", "ntfsclone", "partclone", "raw")
COMPRESSIONS = ("zstd", "gzip", "none")
BITLOCKER = ("decrypted", "encrypted")
SECTOR_SIZES = (512, 1024, 2048, 4096)
PTTYPES = ("dos", "gpt")
# What each method can hold (a method names the program that restores it, so an fstype that
# does not belong to it would choose another program): fsarchiver's and partclone's own lists.
METHOD_FSTYPES: dict[str, tuple[str, ...]] = {
    "fsarchiver": ("ext2", "ext3", "ext4", "ntfs", "vfat", "xfs", "btrfs", "exfat"),
    "ntfsclone": ("ntfs",),
    "partclone": ("ntfs", "ext2", "ext3", "ext4", "vfat", "xfs", "btrfs", "exfat"),
}
MAX_BYTES = 1 << 60  # an exabyte: more than any disk, less than any overflow
MAX_PARTITIONS = 256
MAX_FILES = 100_000  # split pieces of one image
MAX_TEXT = 4096
FSTYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
IDENT_CHARS = frozenset("0123456789abcdefABCDEF-:{}")


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
    # BitLocker on the source: "decrypted" (saved through its key: the image is plain NTFS) or
    # "encrypted" (a raw copy of the encrypted volume); None for anything else. Never a key.
    bitlocker: str | None = None


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

    def table_file(self, suffix: str) -> str | None:
        """The saved disk's table file ending in ``suffix`` (``-pt.sf``, ``-mbr``...), when the
        manifest lists it: only listed files are covered by the checksums."""
        name = f"{self.source['name']}{suffix}"
        return name if name in self.table_files else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True) + "\n"




class Damaged(ValueError):
    """One field of a manifest that is not what OSCAR writes: ``field`` names it (JSON path),
    ``reason`` says what is wrong, in the person's language."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def load(folder: Path) -> Manifest:
    """The manifest of ``folder``, every field typed and bounded, or BackupInvalid saying which
    field is wrong (``damaged: FIELD: REASON``). Nothing read here reaches a path or a program
    unchecked: names are file names inside the folder, kernel names, or known words."""
    path = folder / FILE
    if not path.is_file():
        raise BackupInvalid(_("{folder} has no OSCAR manifest.").format(folder=folder),
                            _("It is not an OSCAR backup, or it is incomplete."))
    try:
        if path.stat().st_size > MAX_SIZE:
            raise Damaged(FILE, _("larger than {size} MiB").format(size=MAX_SIZE >> 20))
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Damaged(FILE, _("not UTF-8 text")) from exc
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise Damaged(FILE, _("not JSON")) from exc
        return parse(data)
    except Damaged as exc:
        raise damaged(folder, exc) from exc
    except OSError as exc:
        raise BackupInvalid(_("The manifest of {folder} cannot be read: {why}").format(
            folder=folder, why=os_reason(exc)), _("Check the backup disk.")) from exc


class ManifestDamaged(BackupInvalid):
    """BackupInvalid for one field; ``detail`` is the short ``FIELD: REASON`` that ``oscar
    list`` shows beside the backup's name."""

    def __init__(self, message: str, hint: str, detail: str) -> None:
        super().__init__(message, hint)
        self.detail = detail


def damaged(folder: Path, exc: Damaged) -> ManifestDamaged:
    return damaged_field(folder, exc.field, exc.reason)


def damaged_field(folder: Path, field_name: str, reason: str,
                  hint: str | None = None) -> ManifestDamaged:
    """The error for one wrong field (or file) of the backup in ``folder``."""
    detail = f"{safetext.shown(field_name)}: {reason}"
    return ManifestDamaged(
        _("The backup {folder} is damaged: {detail}").format(folder=folder, detail=detail),
        hint or _("Do not use it: restore another backup, or save again."), detail)


# -- the typed reader -------------------------------------------------------------------------
def parse(data: object) -> Manifest:
    """A manifest from decoded JSON; Damaged names the first field that is wrong."""
    top = _mapping(data, "manifest")
    _known_keys(top, "manifest", {f for f in Manifest.__dataclass_fields__})
    fmt = top.get("format")
    if fmt != FORMAT:
        raise Damaged("format", _("not {expected}").format(expected=FORMAT))
    name = _text(top, "name", "name", limit=100)
    if not safetext.is_file_name(name):
        raise Damaged("name", _("not a backup name"))
    created = _text(top, "created", "created", limit=64)
    try:
        datetime.datetime.fromisoformat(created)
    except ValueError as exc:
        raise Damaged("created", _("not a date and time")) from exc
    state = _text(top, "state", "state", default="complete")
    if state not in STATES:
        raise Damaged("state", _("unknown value"))
    source = _source(top.get("source"))
    table_files = _file_list(top.get("table_files"), "table_files")
    parts_raw = top.get("partitions")
    if not isinstance(parts_raw, list):
        raise Damaged("partitions", _("not a list"))
    if len(parts_raw) > MAX_PARTITIONS:
        raise Damaged("partitions", _("more than {n}").format(n=MAX_PARTITIONS))
    partitions = [_partition(item, f"partitions[{i}]", source) for i, item in enumerate(parts_raw)]
    numbers = [p.number for p in partitions]
    if len(set(numbers)) != len(numbers):
        raise Damaged("partitions", _("a partition number appears twice"))
    every_file = [*table_files, *(f for p in partitions for f in p.files)]
    if len(set(every_file)) != len(every_file):
        raise Damaged("partitions", _("a file belongs to two partitions"))
    if FILE in every_file or "B2SUMS" in every_file:
        raise Damaged("table_files", _("names the manifest or the checksum file"))
    tools = _string_map(top.get("tools", {}), "tools")
    notes_raw = top.get("notes", [])
    if not isinstance(notes_raw, list) or len(notes_raw) > 64:
        raise Damaged("notes", _("not a list"))
    notes = [_plain(item, f"notes[{i}]") for i, item in enumerate(notes_raw)]
    return Manifest(name=name, created=created,
                    hostname=_text(top, "hostname", "hostname", default="", limit=255),
                    source=source, table_files=table_files, partitions=partitions, tools=tools,
                    oscar_version=_text(top, "oscar_version", "oscar_version", default="",
                                        limit=64),
                    state=state, format=FORMAT, notes=notes)


SOURCE_TEXT = ("identity", "path", "model", "serial", "wwn", "ptuuid")


def _source(value: object) -> dict[str, Any]:
    src = _mapping(value, "source")
    _known_keys(src, "source", {"name", "size", "sector_size", "pttype", *SOURCE_TEXT})
    name = src.get("name")
    if not isinstance(name, str) or not safetext.is_kernel_name(name):
        raise Damaged("source.name", _("not a disk name (sda, nvme0n1)"))
    checked: dict[str, Any] = {"name": name}
    checked["size"] = _optional_int(src, "size", "source.size", low=1)
    sector = _optional_int(src, "sector_size", "source.sector_size", low=1)
    if sector is not None and sector not in SECTOR_SIZES:
        raise Damaged("source.sector_size", _("not a sector size"))
    checked["sector_size"] = sector
    pttype = src.get("pttype")
    if pttype is not None and pttype not in PTTYPES:
        raise Damaged("source.pttype", _("unknown value"))
    checked["pttype"] = pttype
    for key in SOURCE_TEXT:
        item = src.get(key)
        if item is not None:
            checked[key] = _plain(item, f"source.{key}", limit=255)
        elif key in src:
            checked[key] = None
    return checked


def _partition(value: object, where: str, source: dict[str, Any]) -> PartEntry:
    item = _mapping(value, where)
    _known_keys(item, where, set(PartEntry.__dataclass_fields__))
    number = _int(item.get("number"), f"{where}.number", low=1, high=4096)
    name = item.get("name")
    if not isinstance(name, str) or not safetext.is_kernel_name(name):
        raise Damaged(f"{where}.name", _("not a partition name (sda1, nvme0n1p1)"))
    start = _int(item.get("start"), f"{where}.start", low=0)
    size = _int(item.get("size"), f"{where}.size", low=1)
    disk_size = source.get("size")
    if disk_size is not None and start + size > disk_size:
        raise Damaged(f"{where}.size", _("ends beyond the saved disk"))
    fstype = _optional_word(item.get("fstype"), f"{where}.fstype", FSTYPE_CHARS)
    uuid = _optional_word(item.get("uuid"), f"{where}.uuid", IDENT_CHARS)
    partuuid = _optional_word(item.get("partuuid"), f"{where}.partuuid", IDENT_CHARS)
    label = item.get("label")
    if label is not None:
        label = _plain(label, f"{where}.label", limit=255)
    role = item.get("role")
    if role not in ROLES:
        raise Damaged(f"{where}.role", _("unknown value"))
    method = item.get("method")
    if method is not None and method not in METHODS:
        raise Damaged(f"{where}.method", _("unknown value"))
    compress = item.get("compress")
    if compress is not None and compress not in COMPRESSIONS:
        raise Damaged(f"{where}.compress", _("unknown value"))
    files = _file_list(item.get("files", []), f"{where}.files")
    used = _optional_int(item, "used", f"{where}.used", low=0)
    stored = _int(item.get("stored", 0), f"{where}.stored", low=0)
    if role == "data":
        if method is None or not files:
            raise Damaged(f"{where}.method", _("a saved partition needs a method and files"))
        allowed = METHOD_FSTYPES.get(method)
        if allowed is not None and fstype not in allowed:
            raise Damaged(f"{where}.fstype", _("{method} cannot hold {fstype}").format(
                method=method, fstype=fstype or "-"))
        if method != "fsarchiver" and compress is None:
            raise Damaged(f"{where}.compress", _("missing"))
    elif files and (role != "swap" or len(files) > 1):
        raise Damaged(f"{where}.files", _("only saved partitions have files"))
    bitlocker = item.get("bitlocker")
    if bitlocker is not None and (bitlocker not in BITLOCKER or role != "data" or (
            bitlocker == "encrypted") != (method == "raw")):
        raise Damaged(f"{where}.bitlocker", _("unknown value"))
    return PartEntry(number, name, start, size, fstype, label, uuid, partuuid, str(role),
                     method, compress, files, used, stored, bitlocker)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Damaged(where, _("not a mapping"))
    return value


def _known_keys(value: dict[str, Any], where: str, known: set[str]) -> None:
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise Damaged(f"{where}.{unknown[0]}", _("unknown field"))


def _int(value: object, where: str, *, low: int, high: int = MAX_BYTES) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Damaged(where, _("not a whole number"))
    if not low <= value <= high:
        raise Damaged(where, _("out of range"))
    return value


def _optional_int(mapping: dict[str, Any], key: str, where: str, *, low: int) -> int | None:
    value = mapping.get(key)
    return None if value is None else _int(value, where, low=low)


def _plain(value: object, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise Damaged(where, _("not text"))
    if len(value) > limit:
        raise Damaged(where, _("longer than {n} characters").format(n=limit))
    if safetext.has_control(value):
        raise Damaged(where, _("holds control characters"))
    return value


def _text(mapping: dict[str, Any], key: str, where: str, *, default: str | None = None,
          limit: int = MAX_TEXT) -> str:
    if key not in mapping and default is not None:
        return default
    return _plain(mapping.get(key), where, limit)


def _optional_word(value: object, where: str, chars: frozenset[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not set(value) <= chars:
        raise Damaged(where, _("not a valid value"))
    return value


def _file_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list):
        raise Damaged(where, _("not a list"))
    if len(value) > MAX_FILES:
        raise Damaged(where, _("more than {n}").format(n=MAX_FILES))
    for i, name in enumerate(value):
        if not isinstance(name, str) or not safetext.is_file_name(name):
            raise Damaged(f"{where}[{i}]", _("not a file name inside the backup"))
    return list(value)


def _string_map(value: object, where: str) -> dict[str, str]:
    mapping = _mapping(value, where)
    if len(mapping) > 64:
        raise Damaged(where, _("too many entries"))
    return {_plain(k, where, 64): _plain(v, f"{where}.{k}", 255) for k, v in mapping.items()}
