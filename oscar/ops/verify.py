"""Verification of a backup: every checksum, and that every image is readable by its tool.

Used by ``oscar verify`` (deep: each image is decoded by its own tool) and before every restore
(every byte hashed, every image header checked) — before anything is written.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from oscar.backups import checksums, clonezilla, manifest
from oscar.backups.manifest import Manifest, PartEntry
from oscar.core import run
from oscar.core.errors import BackupInvalid, CommandFailed
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.disks.devices import human_size
from oscar.engine import compress as compression
from oscar.engine import fsarchiver, imagehdr, ntfsclone, partclone, scratch

log = logging.getLogger("oscar.verify")
HEADER_BYTES = 4096


def check_checksums(folder: Path, progress: Progress | None = None) -> dict[str, str]:
    """Every file present is listed in B2SUMS and every listed file matches. Returns the sums."""
    sums = checksums.read(folder)
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != checksums.FILE}
    unlisted = sorted(present - set(sums))
    if unlisted and (folder / manifest.FILE).exists():
        raise BackupInvalid(_("{file} is not covered by {sums}.").format(
            file=unlisted[0], sums=checksums.FILE), _("The backup was changed after it was made."))
    total = sum((folder / n).stat().st_size for n in sums if (folder / n).is_file())
    done = 0
    if progress:
        progress.start(_("checksums"), total)
    for name, expected in sorted(sums.items()):
        path = folder / name
        if not path.is_file():
            raise BackupInvalid(_("{file} is missing.").format(file=name),
                                _("The backup is incomplete; use another copy."))
        if checksums.hash_file(path) != expected:
            raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=name),
                                _("The backup is damaged; use another copy."))
        done += path.stat().st_size
        if progress and total:
            progress.update(done / total)
    if progress:
        progress.finish()
    return sums


def image_files(folder: Path, entry: PartEntry) -> list[Path]:
    return [folder / f for f in entry.files]


def _peek(files: list[Path], comp: str, sums: dict[str, str]) -> bytes:
    """The first bytes of the decompressed image stream."""
    argv = compression.decompress_argv(comp)
    if argv is None:
        with files[0].open("rb") as fh:
            return fh.read(HEADER_BYTES)
    collected = bytearray()

    class Enough(Exception):
        pass

    def sink(chunk: bytes) -> None:
        collected.extend(chunk)
        if len(collected) >= HEADER_BYTES:
            raise Enough

    def first_chunks() -> list[bytes]:
        with files[0].open("rb") as fh:
            return [fh.read(1 << 16)]

    try:
        run.pipeline([argv], source=first_chunks(), sink=sink)
    except Enough:
        pass
    except CommandFailed:
        if not collected:
            raise
    return bytes(collected[:HEADER_BYTES])


def image_info(folder: Path, entry: PartEntry, sums: dict[str, str]) -> imagehdr.ImageInfo | None:
    if entry.method == "raw":
        return None  # partclone.dd writes the bare bytes of the partition, with no header
    if entry.method == "partclone":
        head = _peek(image_files(folder, entry), entry.compress or "none", sums)
        return imagehdr.parse_partclone(head, entry.files[0])
    if entry.method == "ntfsclone":
        head = _peek(image_files(folder, entry), entry.compress or "none", sums)
        return imagehdr.parse_ntfsclone(head, entry.files[0])
    return None


def check_headers(folder: Path, man: Manifest, sums: dict[str, str],
                  entries: list[PartEntry] | None = None) -> dict[int, imagehdr.ImageInfo]:
    """Every image's header sane and no larger than its partition; a raw image exactly as
    long as its partition (it has no header: its length is all there is to check, and a
    short one would leave the partition without its filesystem). Restore, deploy and verify
    run this same check before anything is written."""
    infos = {}
    for entry in entries if entries is not None else man.imaged:
        if entry.role != "data" or not entry.files:
            continue
        if entry.method == "raw":
            check_raw_length(folder, entry, sums)
            continue
        info = image_info(folder, entry, sums)
        if info is not None:
            if info.device_size > entry.size:
                raise BackupInvalid(
                    _("Image {file} claims a partition larger than the one saved.").format(
                        file=entry.files[0]), _("The backup is damaged."))
            infos[entry.number] = info
    return infos


def deep_check(folder: Path, entry: PartEntry, sums: dict[str, str],
               on_fraction: Callable[[float], None]) -> None:
    """Decode the whole image with its own tool, without writing anywhere."""
    files = image_files(folder, entry)
    name = entry.files[0]
    try:
        if entry.method == "fsarchiver":
            _trial_restore(files[0], entry, on_fraction)
            return
        stages: list[list[str]] = []
        decompress = compression.decompress_argv(entry.compress or "none")
        if decompress:
            stages.append(decompress)
        reader = checksums.HashingReader(files, sums)
        total = sum(f.stat().st_size for f in files) or 1

        def source() -> Iterator[bytes]:
            for chunk in reader:
                on_fraction(reader.done / total)
                yield chunk

        if entry.method == "raw":
            _count_raw_length(stages, source(), entry, name)
            return
        with partclone.logfile() as logfile:
            stages.append(ntfsclone.check_argv() if entry.method == "ntfsclone"
                          else partclone.check_argv(logfile))
            run.pipeline(stages, source=source())
    except CommandFailed as exc:
        raise BackupInvalid(_("{file} cannot be decoded: {why}").format(file=name, why=exc.message),
                            _("The backup is damaged; use another copy.")) from exc


def _trial_restore(archive: Path, entry: PartEntry, on_fraction: Callable[[float], None]) -> None:
    """fsarchiver checks its per-file checksums only while restoring: restore into a scratch
    device (a sparse file in the temp folder or beside the backups, never a disk of the PC)."""
    run.run(fsarchiver.archinfo_argv(str(archive)))
    data = entry.used or entry.size
    folder = scratch.pick_folder([Path(tempfile.gettempdir()), archive.parent.parent], data)
    if folder is None:
        raise NotDecoded(_("no folder has {need} free for a trial restore").format(
            need=human_size(int(data * 1.1) + scratch.MARGIN)))

    def on_line(line: str) -> None:
        value = fsarchiver.parse_percent(line)
        if value is not None:
            on_fraction(value / 100)

    with scratch.device(entry.size, folder) as device:
        log.info("trial restore of %s into %s (scratch in %s)", archive.name, device, folder)
        run.run(fsarchiver.restore_argv(str(archive), device), on_line=on_line)
    on_fraction(1.0)


class NotDecoded(Exception):
    """An image whose checksums match but that could not be decoded here (and why)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def check_raw_length(folder: Path, entry: PartEntry, sums: dict[str, str]) -> None:
    """An uncompressed raw image's length is its files' sizes; a compressed one is counted
    through its decompressor (no byte is written anywhere)."""
    files = image_files(folder, entry)
    if (entry.compress or "none") == "none":
        length = sum(f.stat().st_size for f in files)
        if length != entry.size:
            raise BackupInvalid(
                _("{file} holds {have} bytes for a partition of {need}.").format(
                    file=entry.files[0], have=length, need=entry.size),
                _("The backup is damaged; use another copy."))
        return
    stages = [compression.decompress_argv(entry.compress or "none") or []]
    try:
        _count_raw_length(stages, iter(checksums.HashingReader(files, sums)), entry,
                          entry.files[0])
    except CommandFailed as exc:
        raise BackupInvalid(_("{file} cannot be decoded: {why}").format(
            file=entry.files[0], why=exc.message),
            _("The backup is damaged; use another copy.")) from exc


def _count_raw_length(stages: list[list[str]], source: Iterator[bytes], entry: PartEntry,
                      name: str) -> None:
    length = 0

    class TooLong(Exception):
        pass

    def count(chunk: bytes) -> None:
        nonlocal length
        length += len(chunk)
        if length > entry.size:
            raise TooLong  # a decompression bomb is not decompressed to its end

    try:
        if stages:
            run.pipeline(stages, source=source, sink=count)
        else:
            for chunk in source:
                count(chunk)
    except TooLong:
        pass
    if length != entry.size:
        raise BackupInvalid(_("{file} holds {have} bytes for a partition of {need}.").format(
            file=name, have=length, need=entry.size), _("The backup is damaged; use another copy."))


def check_integrity(folder: Path, man: Manifest,
                    progress: Progress | None = None) -> dict[str, str]:
    """What every restore checks before its first write: all checksums, every file the manifest
    names covered by them, every image header sane. Returns the sums."""
    sums = check_checksums(folder, progress)
    for name in man.all_files:
        if name not in sums:
            raise BackupInvalid(_("{file} is not covered by {sums}.").format(
                file=name, sums=checksums.FILE), _("The backup is damaged."))
    return sums


@dataclass
class Report:
    manifest: Manifest
    decoded: list[str] = field(default_factory=list)
    not_decoded: dict[str, str] = field(default_factory=dict)  # file → why
    sum_files: list[str] = field(default_factory=lambda: [checksums.FILE])
    clonezilla: bool = False


def fill_used(folder: Path, man: Manifest) -> None:
    """Used bytes of images whose manifest does not say (a Clonezilla folder): their headers."""
    for entry in man.imaged:
        if entry.role == "data" and entry.used is None and entry.method != "raw":
            info = image_info(folder, entry, {})
            if info is not None:
                entry.used = info.used_bytes


def check_clonezilla(folder: Path, man: Manifest, progress: Progress | None = None, *,
                     decode: bool = True) -> tuple[dict[str, str], list[str]]:
    """A Clonezilla folder: its checksum files when present; without any, every image is
    decoded by its own tool (partclone's per-block checksums) — never a silent skip."""
    if progress:
        progress.start(_("checksums"), sum((folder / f).stat().st_size for f in man.all_files))
    sums, used = clonezilla.check(folder, man, progress.update if progress else None)
    if progress:
        progress.finish()
    if not used and decode:
        log.warning("%s has no checksum file: decoding every image", folder)
        for entry in man.imaged:
            if entry.role == "data":
                deep_check(folder, entry, sums, lambda fraction: None)
    return sums, used


def verify(folder: Path, progress: Progress, *, deep: bool = True) -> Report:
    if not (folder / manifest.FILE).exists() and clonezilla.is_clonezilla(folder):
        return _verify_clonezilla(folder, progress, deep=deep)
    man = manifest.load(folder)
    if man.state != "complete":
        raise BackupInvalid(_("The backup {name} is not complete.").format(name=man.name),
                            _("Save it again."))
    sums = check_integrity(folder, man, progress)
    return _decode_all(folder, man, sums, progress, Report(man), deep=deep)


def _verify_clonezilla(folder: Path, progress: Progress, *, deep: bool) -> Report:
    man = clonezilla.load(folder)
    sums, used = check_clonezilla(folder, man, progress, decode=False)
    report = Report(man, sum_files=used, clonezilla=True)
    if not used:
        deep = True  # nothing else proves the images: decode them all
    return _decode_all(folder, man, sums, progress, report, deep=deep)


def _decode_all(folder: Path, man: Manifest, sums: dict[str, str], progress: Progress,
                report: Report, *, deep: bool) -> Report:
    # decoding a raw image counts its length: the header check need not do it first
    check_headers(folder, man, sums, [e for e in man.imaged if not (deep and e.method == "raw")])
    for entry in man.imaged:
        if entry.role != "data":
            continue
        if not deep:
            report.not_decoded[entry.files[0]] = _("quick check")
            continue
        progress.start(_("decode {file}").format(file=entry.files[0]), entry.stored)
        try:
            deep_check(folder, entry, sums, progress.update)
        except NotDecoded as exc:
            log.warning("%s not decoded: %s", entry.files[0], exc.why)
            report.not_decoded[entry.files[0]] = exc.why
        else:
            report.decoded.append(entry.files[0])
        progress.finish()
    return report
