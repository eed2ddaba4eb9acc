"""Clonezilla (and Rescuezilla) image folders, read as OSCAR manifests so they restore and verify.

A Clonezilla folder names its disk in ``disk``, its imaged partitions in ``parts``, keeps the
table in ``<disk>-pt.sf`` and each partition as ``<part>.<fs>-ptcl-img.<comp>`` (partclone) or
``<part>.ntfs-img.<comp>`` (older ntfsclone), split into ``.aa``, ``.ab``... or not. Checksum
files (B2SUMS, SHA512SUMS, SHA256SUMS, SHA1SUMS, MD5SUMS in ``*sum -c`` format) exist only when
it was asked to write them: then every one present is checked; without them, every image is
decoded with its own tool (partclone's images carry a checksum per block) before anything is
written, and the report says so.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path

from oscar.backups import manifest
from oscar.backups.manifest import Manifest, PartEntry
from oscar.core import cancel, safetext
from oscar.core.errors import BackupInvalid, OscarError
from oscar.core.i18n import _, ngettext
from oscar.engine import compress as compression
from oscar.engine import ptable

log = logging.getLogger("oscar.clonezilla")

SUM_FILES = {"B2SUMS": "blake2b", "SHA512SUMS": "sha512", "SHA256SUMS": "sha256",
             "SHA1SUMS": "sha1", "MD5SUMS": "md5"}
_DIGEST_LENGTH = {"blake2b": 128, "sha512": 128, "sha256": 64, "sha1": 40, "md5": 32}
_PIECE = re.compile(r"[a-z]{2,}")  # split's suffixes: aa, ab... (longer past zz)
CONTENT = "?"  # an image whose name gives no compression: read from its first bytes
MAX_SUMS = 1 << 20
CHUNK = 4 << 20
# Clonezilla's file system names in image names → blkid's (what OSCAR's engine speaks).
FS_NAMES = {"vfat": "vfat", "fat12": "vfat", "fat16": "vfat", "fat32": "vfat", "dd": None}


def is_clonezilla(folder: Path) -> bool:
    return (folder / "parts").is_file() and (folder / "disk").is_file()


def part_number(disk: str, part: str) -> int | None:
    """sda1 → 1, nvme0n1p2 → 2, mmcblk0p1 → 1, loop3p1 → 1 (for disk sda, nvme0n1...)."""
    match = re.fullmatch(re.escape(disk) + r"p?(\d+)", part)
    return int(match.group(1)) if match else None


def image_files(folder: Path, part: str) -> tuple[list[str], str, str, str]:
    """The files of one partition's image, in order: (files, method, fstype, compressor)."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for path in folder.iterdir():
        name = path.name
        if not name.startswith(part + "."):
            continue
        rest = name[len(part) + 1:]
        if "-ptcl-img." in rest:
            fs, _sep, suffix = rest.partition("-ptcl-img.")
            method = "raw" if fs == "dd" else "partclone"
        elif rest == "ntfs-img" or rest.startswith("ntfs-img."):
            # Clonezilla: sda1.ntfs-img[.aa], compression in the content; older OSCAR and
            # Clonezilla: sda1.ntfs-img.gz[.aa]
            fs, suffix, method = "ntfs", rest[len("ntfs-img."):], "ntfsclone"
            if _PIECE.fullmatch(suffix.partition(".")[0]) and suffix.partition(".")[0] \
                    not in compression.FROM_SUFFIX:
                suffix = CONTENT + "." + suffix
            elif not suffix:
                suffix = CONTENT
        else:
            continue
        suffix, _dot, piece = suffix.partition(".")  # gz, or gz + aa for a split image
        if piece and not _PIECE.fullmatch(piece):
            continue
        found.setdefault((method, fs, suffix), []).append(name)
    if len(found) != 1:
        raise BackupInvalid(
            ngettext("The Clonezilla image has {count} image for partition {part}.",
                     "The Clonezilla image has {count} images for partition {part}.",
                     len(found)).format(
                count=len(found), part=part), _("Keep one image per partition in the folder."))
    (method, fs, suffix), files = next(iter(found.items()))
    if suffix == CONTENT:
        with (folder / sorted(files)[0]).open("rb") as fh:
            by_content = compression.from_content(fh.read(8))
        suffix = compression.SUFFIX.get(by_content, by_content)
    comp = compression.FROM_SUFFIX.get(suffix)
    if comp is None:
        raise BackupInvalid(
            _("{file} is compressed with '{suffix}', which OSCAR does not read.").format(
                file=files[0], suffix=suffix),
            _("OSCAR reads Clonezilla images compressed with zstd or gzip, or uncompressed."))
    fstype = FS_NAMES.get(fs, fs) if method != "raw" else None
    return sorted(files), method, fstype or "", comp


def load(folder: Path) -> Manifest:
    """A manifest describing a Clonezilla folder (nothing is written into it)."""
    disks = _words(folder, "disk")
    if len(disks) != 1:
        raise BackupInvalid(ngettext("The Clonezilla image holds {n} disk.",
                                     "The Clonezilla image holds {n} disks.",
                                     len(disks)).format(n=len(disks)),
                            _("OSCAR restores Clonezilla images of one disk."))
    disk = disks[0]
    if not safetext.is_kernel_name(disk):
        raise manifest.damaged_field(folder, "disk", _("not a disk name (sda, nvme0n1)"))
    sf_name = f"{disk}-pt.sf"
    if not (folder / sf_name).is_file():
        raise BackupInvalid(_("{file} is missing in {folder}.").format(file=sf_name, folder=folder),
                            _("This Clonezilla image has no partition table (a 'saveparts' "
                              "image): restore it without --with-table."))
    try:
        table = ptable.parse_sf(_small_text(folder, sf_name))
    except OscarError as exc:
        raise manifest.damaged_field(folder, sf_name, _("not a partition table")) from exc
    saved = set(_words(folder, "parts"))
    if not all(safetext.is_kernel_name(p) for p in saved):
        raise manifest.damaged_field(folder, "parts", _("not a partition name (sda1, nvme0n1p1)"))
    names = {part_number(disk, p): p for p in saved}
    if None in names:
        raise BackupInvalid(_("The Clonezilla image's parts do not belong to {disk}.").format(
            disk=disk), _("The image is damaged."))
    partitions = _partitions(folder, disk, table, saved, names)
    missing = saved - {p.name for p in partitions}
    if missing:
        raise BackupInvalid(_("The Clonezilla image lists {parts}, not in its partition "
                              "table.").format(parts=", ".join(sorted(missing))),
                            _("The image is damaged."))
    table_files = [n for n in (sf_name, f"{disk}-mbr", f"{disk}-hidden-data-after-mbr")
                   if (folder / n).is_file()]
    created = datetime.datetime.fromtimestamp((folder / "parts").stat().st_mtime)
    size = _disk_size(folder, disk, table)
    made = Manifest(
        name=folder.name, created=created.isoformat(timespec="seconds"), hostname="",
        source={"name": disk, "size": size, "sector_size": table.sector_size, "identity": None,
                "pttype": table.label},
        table_files=table_files, partitions=partitions, tools={}, oscar_version="",
        notes=["Clonezilla image"])
    try:  # the same strict reader as OSCAR's own manifests: names, types, bounds
        return manifest.parse(dataclasses.asdict(made))
    except manifest.Damaged as exc:
        raise manifest.damaged_field(folder, exc.field, exc.reason) from exc


def _partitions(folder: Path, disk: str, table: ptable.SfTable, saved: set[str],
                names: dict[int | None, str]) -> list[PartEntry]:
    """One entry per partition of the table: its images (saved), its swap record, or none."""
    sector = table.sector_size
    seen = blkid_list(folder)
    partitions = []
    for e in table.entries:
        part = names.get(e.number) or _name(disk, e.number)
        found = seen.get(part, {})
        fs_uuid = found.get("UUID", "")
        entry = PartEntry(e.number, part, e.start * sector, e.size * sector, None,
                          found.get("LABEL"), fs_uuid if _UUID.fullmatch(fs_uuid) else None,
                          e.fields.get("uuid"), "skipped")
        if part in saved:
            files, method, fstype, comp = image_files(folder, part)
            entry.role, entry.method, entry.files = "data", method, files
            entry.fstype, entry.compress = fstype or None, comp
            entry.stored = sum((folder / f).stat().st_size for f in files)
        elif (folder / f"swappt-{part}.info").is_file():
            entry.role, entry.fstype = "swap", "swap"
            info = _small_text(folder, f"swappt-{part}.info")
            entry.uuid = _info(info, "UUID")
            entry.label = _info(info, "LABEL")
        partitions.append(entry)
    return partitions


def _disk_size(folder: Path, disk: str, table: ptable.SfTable) -> int | None:
    """The saved disk's size: in ``<disk>-pt.parted`` (parted's print in sectors, which
    Clonezilla keeps), else from a GPT's last usable sector; an MBR table alone does not say."""
    parted = folder / f"{disk}-pt.parted"
    if parted.is_file():
        match = re.search(r"^Disk /dev/\S+: (\d{1,20})s$", _small_text(folder, parted.name), re.M)
        if match:
            return int(match.group(1)) * table.sector_size
    last = table.header.get("last-lba")
    return (int(last) + 1 + ptable.GPT_BACKUP_SECTORS) * table.sector_size if last else None


_UUID = re.compile(r"[0-9A-Fa-f-]{1,64}")
_BLKID_LINE = re.compile(r"/dev/(\S+): (.*)")
_BLKID_VALUE = re.compile(r'([A-Z_]+)="((?:[^"\\]|\\.)*)"')


def blkid_list(folder: Path) -> dict[str, dict[str, str]]:
    """What Clonezilla's ``blkid.list`` says of each partition (label, UUID, type), by kernel
    name; a line that does not read as blkid's is skipped, the file is optional."""
    if not (folder / "blkid.list").is_file():
        return {}
    found: dict[str, dict[str, str]] = {}
    for line in _small_text(folder, "blkid.list").splitlines():
        match = _BLKID_LINE.fullmatch(line.strip())
        if match is None or not safetext.is_kernel_name(match.group(1)):
            continue
        values = {key: re.sub(r"\\(.)", r"\1", value)
                  for key, value in _BLKID_VALUE.findall(match.group(2))}
        found[match.group(1)] = {k: v for k, v in values.items()
                                 if v and not safetext.has_control(v) and len(v) <= 255}
    return found


def _small_text(folder: Path, name: str) -> str:
    """A small text file of the folder (names, tables), read strictly."""
    path = folder / name
    try:
        if path.stat().st_size > MAX_SUMS:
            raise manifest.damaged_field(folder, name, _("too large"))
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise manifest.damaged_field(folder, name, _("not UTF-8 text")) from exc
    except OSError as exc:
        raise BackupInvalid(_("{file} is missing in {folder}.").format(file=name, folder=folder),
                            _("The image is damaged.")) from exc


def _words(folder: Path, name: str) -> list[str]:
    return _small_text(folder, name).split()


def _name(disk: str, number: int) -> str:
    return f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}"


def _info(text: str, key: str) -> str | None:
    match = re.search(rf'^{key}="([^"]*)"', text, re.M)
    return match.group(1) or None if match else None


def read_sums(folder: Path) -> dict[str, dict[str, str]]:
    """Every checksum file present: its name → {file: digest}. A damaged one is an error."""
    found: dict[str, dict[str, str]] = {}
    for sums_name, algorithm in SUM_FILES.items():
        path = folder / sums_name
        if not path.is_file():
            continue
        if path.stat().st_size > MAX_SUMS:
            raise BackupInvalid(_("The checksum file {file} is too large.").format(file=sums_name),
                                _("The checksum file is damaged."))
        line_re = re.compile(rf"^([0-9a-f]{{{_DIGEST_LENGTH[algorithm]}}}) [ *](.+)$")
        sums: dict[str, str] = {}
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            match = line_re.match(line)
            name = match.group(2).removeprefix("./") if match else ""
            if not match or "/" in name:
                raise BackupInvalid(_("{file} line {n} is not a checksum line.").format(
                    file=sums_name, n=number), _("The checksum file is damaged."))
            sums[name] = match.group(1)
        if not sums:
            raise BackupInvalid(_("The checksum file {file} is empty.").format(file=sums_name),
                                _("The checksum file is damaged."))
        found[sums_name] = sums
    return found


def check(folder: Path, man: Manifest,
          on_fraction: Callable[[float], None] | None = None) -> tuple[dict[str, str], list[str]]:
    """Hash every file of the image once, against every checksum file present. Returns the
    BLAKE2b digests (what the restore compares while it reads the files again) and the names of
    the checksum files used (empty: none, the images must then be decoded before writing)."""
    sum_files = read_sums(folder)
    names = sorted({*man.all_files, *(n for s in sum_files.values() for n in s)})
    total = sum((folder / n).stat().st_size for n in names if (folder / n).is_file()) or 1
    done = 0
    blake: dict[str, str] = {}
    for name in names:
        path = folder / name
        if not path.is_file():
            raise BackupInvalid(_("{file} is missing.").format(file=name),
                                _("The backup is incomplete; use another copy."))
        wanted = {SUM_FILES[s]: sums[name] for s, sums in sum_files.items() if name in sums}
        digests = {a: hashlib.new(a) for a in {"blake2b", *wanted}}
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                cancel.check()
                for digest in digests.values():
                    digest.update(block)
                done += len(block)
                if on_fraction:
                    on_fraction(done / total)
        for algorithm, expected in wanted.items():
            if digests[algorithm].hexdigest() != expected:
                raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=name),
                                    _("The backup is damaged; use another copy."))
        blake[name] = digests["blake2b"].hexdigest()
    if sum_files:
        images = [f for p in man.imaged for f in p.files]
        uncovered = [f for f in images if not any(f in s for s in sum_files.values())]
        if uncovered:
            raise BackupInvalid(_("{file} is not covered by {sums}.").format(
                file=uncovered[0], sums=", ".join(sum_files)),
                _("The backup was changed after it was made."))
    return blake, sorted(sum_files)
