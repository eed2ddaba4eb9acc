"""`oscar copy`: one backup from a store to another (the PC's OSCAR partition ↔ a USB disk's
OSCAR-SAVE or OSCAR-ECOLE), checked on both ends.

Each file is read once: hashed on the way and compared with the source's B2SUMS (a damaged
source never becomes a "good" copy), written through the store's ImageSink (flushed and read
back from the destination disk). The copy is built under the destination's partial name and
swapped in atomically by the store, so a copy killed at any moment leaves the destination's
previous backup of that name listed and intact.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from oscar.backups import checksums, manifest
from oscar.backups.store import PartialBackup, Store
from oscar.core import cancel
from oscar.core.errors import BackupInvalid, StoreFull, UsageError
from oscar.core.i18n import _
from oscar.core.oplog import LOGS_DIR
from oscar.core.progress import Progress
from oscar.disks.devices import human_size

log = logging.getLogger("oscar.copy")
MARGIN = 16 << 20  # the manifest, B2SUMS and the filesystem's own bookkeeping


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def copy_backup(source: Store, name: str, target: Store, progress: Progress,
                new_name: str | None = None) -> Path:
    """Copy backup ``name`` of ``source`` into ``target`` (as ``new_name``); returns its
    folder there."""
    target.check_writable()
    entry = source.get(name)
    if entry.state != "complete" or entry.manifest is None:
        raise BackupInvalid(_("The backup '{name}' is {state}; only a complete backup is "
                              "copied.").format(name=name, state=entry.state),
                            _("Verify it with 'oscar verify', or copy another backup."))
    dest_name = new_name or name
    if _same_folder(source.root, target.root) and dest_name == name:
        raise UsageError(_("The source and the destination are the same folder."),
                         _("Give another --to, or a new name with --as."))
    sums = checksums.read(entry.folder)
    files = sorted(sums)
    missing = [f for f in files if not (entry.folder / f).is_file()]
    if missing:
        raise BackupInvalid(_("Files missing from the backup: {files}").format(
            files=", ".join(missing)), _("The backup is damaged; copy another one."))
    if manifest.FILE in sums and checksums.hash_file(entry.folder / manifest.FILE) != \
            sums[manifest.FILE]:
        raise BackupInvalid(
            _("{file} of the backup '{name}' does not match its checksum.").format(
                file=manifest.FILE, name=name),
            _("The source backup is damaged; nothing was copied."))
    total = sum((entry.folder / f).stat().st_size for f in files)
    free = shutil.disk_usage(target.root).free
    replacing = (target.root / dest_name).exists()
    if total + MARGIN > free:
        raise StoreFull(_("{root} has {free} free; the backup needs {need}.").format(
            root=target.root, free=human_size(free), need=human_size(total + MARGIN)),
            _("Free space there (delete an old backup) or choose another destination."))
    log.info("copying %s (%s) from %s to %s as %s", name, human_size(total), source.root,
             target.root, dest_name)
    target.recover()
    progress.start(_("copy of {name}").format(name=name), total)
    done = 0

    def copied(count: int) -> None:
        nonlocal done
        done += count
        progress.update(done / total if total else 1.0)

    with target.writing(dest_name) as partial:
        for filename in files:
            if filename == manifest.FILE:
                continue  # publish() writes it from the manifest, then sums it
            with (entry.folder / filename).open("rb") as src:
                write_checked(partial, filename, iter(lambda: src.read(checksums.CHUNK), b""),
                              sums[filename], copied, _(
                                  "The source backup is damaged; nothing was copied. The "
                                  "destination keeps what it had."))
        folder = partial.publish(entry.manifest)
    progress.finish()
    _copy_logs(entry.folder / LOGS_DIR, folder / LOGS_DIR)
    log.info("copied %s to %s%s", name, folder, " (replacing the previous one)" if replacing else "")
    return folder


def write_checked(partial: PartialBackup, filename: str, blocks: Iterator[bytes],
                  expected: str, on_bytes: Callable[[int], None], damaged_hint: str) -> None:
    """One file of a backup into ``partial``: hashed on the way and compared with its B2SUMS
    line (``expected``), written through the store's read-back sink."""
    digest = checksums.new_hash()
    sink = partial.open_sink(filename)
    try:
        for block in blocks:
            cancel.check()
            digest.update(block)
            sink(block)
            on_bytes(len(block))
    except BaseException:
        sink.abandon()
        raise
    if digest.hexdigest() != expected:
        sink.abandon()
        raise BackupInvalid(_("{file} of the backup does not match its checksum.").format(
            file=filename), damaged_hint)
    sink.close()


def _copy_logs(source: Path, target: Path) -> None:
    """The restore logs, outside B2SUMS by design (oplog.py): copied as they are."""
    if not source.is_dir():
        return
    try:
        shutil.copytree(source, target, dirs_exist_ok=True)
    except OSError as exc:
        log.warning("restore logs of %s not copied: %s", source.parent.name, exc)
