"""The backup store: one folder per backup, visible only once complete.

A backup is written under ``.oscar-partial-NAME``, flushed, re-read from the disk and checked
against the hashes taken while writing, then swapped with ``NAME`` in one atomic rename
(renameat2 RENAME_EXCHANGE). Until that instant the previous ``NAME`` is untouched and listed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import queue
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from oscar.backups import checksums, clonezilla, manifest
from oscar.core import safetext
from oscar.core.errors import BackupInvalid, OscarError, StoreFull, StoreReadOnly, UsageError, os_reason
from oscar.core.i18n import _
from oscar.disks.devices import human_size

log = logging.getLogger("oscar.store")

PARTIAL = ".oscar-partial-"
OLD = ".oscar-old-"
LOCK = ".oscar-lock-"
DELETING = ".oscar-deleting-"
NAME_RE = re.compile(r"[\w][\w.+@-]{0,99}")
# Folders of an OSCAR partition that are not backups: the live system and GRUB's menu live in
# boot/ (oscar install).
RESERVED = ("boot", "lost+found")
RENAME_EXCHANGE = 2
AT_FDCWD = -100


@dataclass
class Entry:
    name: str
    folder: Path
    state: str  # complete, incomplete, clonezilla, damaged
    manifest: manifest.Manifest | None = None
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.state in ("complete", "clonezilla")


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise UsageError(_("'{name}' is not a valid backup name.").format(
            name=safetext.shown(name)),
                         _("Use letters, digits, '.', '-', '_' (no '/', no leading dot)."))
    if name in RESERVED:
        raise UsageError(_("'{name}' is reserved on an OSCAR partition.").format(name=name),
                         _("Choose another name for the backup."))
    return name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False when the filesystem cannot (some FUSE mounts)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    result = fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


class Store:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def check_exists(self) -> None:
        if not self.root.is_dir():
            raise UsageError(_("The backup folder {root} does not exist.").format(root=self.root),
                             _("Mount the OSCAR partition or the backup disk, or give --store."))

    def check_writable(self) -> None:
        """Before anything is planned into it: a read-only store is said as such (not as a
        lack of free space, nor as a failure halfway)."""
        self.check_exists()
        try:
            readonly = bool(os.statvfs(self.root).f_flag & os.ST_RDONLY)
        except OSError as exc:
            raise store_error(exc, self.root) from exc
        if readonly or not os.access(self.root, os.W_OK):
            raise read_only(self.root)

    def folder(self, name: str) -> Path:
        return self.root / check_name(name)

    def recover(self) -> None:
        """Finish what a killed swap left: an old backup whose replacement never arrived."""
        try:
            for gone in self.root.glob(DELETING + "*"):  # a deletion the PC did not finish
                shutil.rmtree(gone, ignore_errors=True)
            for old in self.root.glob(OLD + "*"):
                target = self.root / old.name[len(OLD):]
                if target.exists():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    log.warning("restoring %s left by an interrupted save", target.name)
                    os.rename(old, target)
        except OSError as exc:
            raise store_error(exc, self.root) from exc

    def entries(self, *, include_incomplete: bool = False) -> list[Entry]:
        self.check_exists()
        found: list[Entry] = []
        try:
            children = sorted(self.root.iterdir())
        except OSError as exc:
            raise OscarError(_("Cannot read the backup folder {root}: {why}").format(
                root=self.root, why=os_reason(exc)), _("Check the backup disk.")) from exc
        for child in children:
            if not child.is_dir():
                continue
            if child.name.startswith(PARTIAL):
                if include_incomplete:
                    found.append(Entry(child.name[len(PARTIAL):], child, "incomplete"))
                continue
            if child.name.startswith(".") or child.name in RESERVED:
                continue
            found.append(self._entry(child))
        return found

    def _entry(self, child: Path) -> Entry:
        """What one folder of the store is; a damaged one says why, and never hides the
        others (``oscar list`` shows every good backup beside it)."""
        if not NAME_RE.fullmatch(child.name):
            return Entry(safetext.shown(child.name), child, "damaged",
                         problem=_("not a valid backup name"))
        if (child / manifest.FILE).exists():
            try:
                m = manifest.load(child)
            except BackupInvalid as exc:
                return Entry(child.name, child, "damaged", problem=_damage(exc))
            if not (child / checksums.FILE).exists():
                return Entry(child.name, child, "damaged", m, _("no checksum file"))
            return Entry(child.name, child, m.state, m)
        if (child / "parts").exists():
            try:
                clonezilla.load(child)
            except BackupInvalid as exc:
                return Entry(child.name, child, "damaged", problem=_damage(exc))
            except OSError as exc:
                return Entry(child.name, child, "damaged", problem=os_reason(exc))
            return Entry(child.name, child, "clonezilla")
        return Entry(child.name, child, "damaged", problem=_("not a backup"))

    def get(self, name: str) -> Entry:
        self.check_exists()
        folder = self.folder(name)
        if not folder.is_dir():
            names = [e.name for e in self.entries() if e.usable]
            raise UsageError(
                _("No backup named '{name}' in {root}.").format(name=name, root=self.root),
                _("Backups there: {names}.").format(names=", ".join(names) or "-"))
        return self._entry(folder)

    def delete(self, name: str) -> None:
        """Remove the backup ``name``: first renamed out of the list in one step (it is either
        listed whole or not at all, even if the PC stops midway), then its files removed. A
        save of the same name running at that moment keeps it (its lock is taken here too)."""
        self.check_writable()
        folder = self.folder(name)
        if folder.is_symlink() or not folder.is_dir():
            self.get(name)  # says which backups there are
            raise UsageError(_("'{name}' is not a backup folder.").format(name=name),
                             _("Only backups listed by 'oscar list' can be deleted."))
        if self.pinned_for_restaure(name):
            raise UsageError(
                _("restaure in this PC's boot menu uses the backup '{name}': deleting it would "
                  "leave the PC without a backup to restore.").format(name=name),
                _("First repair the boot menu for another backup (Tools → GRUB, or 'oscar grub "
                  "--repair --backup OTHER', or --backup '' for the newest), then delete it."))
        gone = self.root / f"{DELETING}{name}"
        with self._name_locked(name):
            try:
                os.rename(folder, gone)
                fsync_dir(self.root)
                shutil.rmtree(gone)
            except OSError as exc:
                raise store_error(exc, self.root) from exc
        log.info("backup %s deleted from %s", name, self.root)

    def pinned_for_restaure(self, name: str) -> bool:
        """The boot menu on this OSCAR partition names ``name`` for restaure (oscar install
        --backup): its kernel line carries oscar.backup=NAME."""
        menu = self.root / "boot" / "grub" / "grub.cfg"
        try:
            text = menu.read_text(encoding="utf-8", errors="replace")[:1_000_000]
        except OSError:
            return False
        return any(word.strip("'\"") == f"oscar.backup={name}" for word in text.split())

    @contextlib.contextmanager
    def writing(self, name: str, *, resume: bool = False) -> Iterator[PartialBackup]:
        """A partial backup folder; removed on any failure, published by ``publish``.
        ``resume``: what an interrupted transfer left there is kept (and kept again if this
        one fails too), for files that can be continued rather than sent again (an import);
        it is never listed, and is checked like everything else before publish."""
        self.check_writable()
        check_name(name)
        self.recover()
        with self._name_locked(name):
            partial = self.root / f"{PARTIAL}{name}"
            if partial.exists() and not resume:
                log.info("removing %s left by an interrupted save", partial)
                shutil.rmtree(partial)
            try:
                partial.mkdir(exist_ok=resume)
            except OSError as exc:
                raise store_error(exc, self.root) from exc
            backup = PartialBackup(self, name, partial)
            try:
                yield backup
            finally:
                # after publish, the partial name holds nothing or the previous backup
                if partial.exists() and (backup.published or not resume):
                    shutil.rmtree(partial, ignore_errors=True)

    @contextlib.contextmanager
    def _name_locked(self, name: str) -> Iterator[None]:
        """One save (or deletion) of a backup name at a time, across processes."""
        lock_path = self.root / f"{LOCK}{name}"
        try:
            lock_fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise store_error(exc, self.root) from exc
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UsageError(_("Another save of '{name}' is running.").format(name=name),
                                 _("Wait for it to finish.")) from exc
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)  # only by the holder of the lock
        finally:
            os.close(lock_fd)


def deletion_text(entry: Entry) -> str:
    """What is about to be deleted, for the question (the command line's and the menu's)."""
    if entry.manifest is None:
        return _("The backup '{name}' and all its files will be deleted.").format(name=entry.name)
    return _("The backup '{name}' of {date} ({size}) and all its files will be deleted; it "
             "cannot be restored any more.").format(
        name=entry.name, date=entry.manifest.created[:16].replace("T", " "),
        size=human_size(entry.manifest.stored_bytes))


def _damage(exc: BackupInvalid) -> str:
    return exc.detail if isinstance(exc, manifest.ManifestDamaged) else exc.message


def read_only(root: Path) -> StoreReadOnly:
    return StoreReadOnly(_("The backup disk is read-only ({root}).").format(root=root),
                         _("Mount it read-write (or check it: Linux mounts a damaged disk "
                           "read-only). Nothing was written."))


def store_error(exc: OSError, root: Path) -> OscarError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(_("The backup disk is full ({root}).").format(root=root),
                         _("Delete an old backup ('oscar delete', or Tools → Delete a backup in the menu) or "
                           "use a bigger disk. "
                           "The older backups are intact."))
    if exc.errno == errno.EROFS:
        return read_only(root)
    return OscarError(_("Cannot write in {root}: {why}").format(root=root, why=os_reason(exc)),
                      _("Check the backup disk."))


class PartialBackup:
    def __init__(self, store: Store, name: str, folder: Path) -> None:
        self.store = store
        self.name = name
        self.folder = folder
        self.sums: dict[str, str] = {}  # hashes taken while writing, checked after flushing
        self.read_back: set[str] = set()  # files already read back from the disk and matched
        self.published = False

    def open_sink(self, filename: str) -> ImageSink:
        return ImageSink(self, filename)

    def publish(self, man: manifest.Manifest) -> Path:
        """Flush, re-read and check every file, write B2SUMS and swap the folder in."""
        try:
            (self.folder / manifest.FILE).write_text(man.to_json(), encoding="utf-8")
            final_sums: dict[str, str] = {}
            for path in sorted(self.folder.iterdir()):
                if path.name == checksums.FILE:
                    continue
                if path.name in self.read_back:
                    final_sums[path.name] = self.sums[path.name]
                    continue
                _fsync_file(path)
                digest = checksums.hash_file(path, drop_cache=True)
                expected = self.sums.get(path.name)
                if expected is not None and expected != digest:
                    raise BackupInvalid(
                        _("{file} differs on the disk from what was written.").format(
                            file=path.name),
                        _("The backup disk may be failing; use another one."))
                final_sums[path.name] = digest
            missing = [f for f in man.all_files if f not in final_sums]
            if missing:
                raise BackupInvalid(_("Files missing from the backup: {files}").format(
                    files=", ".join(missing)), _("Save again."))
            sums_path = self.folder / checksums.FILE
            sums_path.write_text(checksums.render(final_sums))
            _fsync_file(sums_path)
            fsync_dir(self.folder)
            target = self.store.root / self.name
            if target.exists():
                if not _exchange(self.folder, target):
                    old = self.store.root / f"{OLD}{self.name}"
                    os.rename(target, old)
                    os.rename(self.folder, target)
                    fsync_dir(self.store.root)
                    shutil.rmtree(old)
                else:
                    fsync_dir(self.store.root)
                    # self.folder now holds the previous backup; the context manager removes it.
            else:
                os.rename(self.folder, target)
                fsync_dir(self.store.root)
            self.published = True
            return target
        except OSError as exc:
            raise store_error(exc, self.store.root) from exc


def _read_block(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, size, offset)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageSink:
    """Receives an image's bytes from a pipeline, writes them, hashes them on the way, and reads
    them back from the disk while the pipeline goes on.

    Every VERIFY_STEP bytes the written range is flushed to the disk, its pages are dropped from
    the cache and a thread reads it back and hashes it: the image is checked against what the
    disk really holds, and that costs no time at the end (the compressor is the bottleneck;
    reading back at the end cost ~1 s per 190 MB on the bench machine).
    """

    VERIFY_STEP = 64 << 20

    def __init__(self, backup: PartialBackup, filename: str) -> None:
        self.backup = backup
        self.filename = filename
        self.digest = checksums.new_hash()
        self.written = 0
        self.flushed = 0
        self._ranges: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._read_digest = checksums.new_hash()
        self._read_error: BaseException | None = None
        path = backup.folder / filename
        try:
            self.fh = path.open("wb")
            self._read_fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise store_error(exc, backup.store.root) from exc
        self._reader = threading.Thread(target=self._read_back, daemon=True,
                                        name=f"read-back {filename}")
        self._reader.start()

    def __call__(self, chunk: bytes) -> None:
        try:
            self.fh.write(chunk)
        except OSError as exc:
            raise store_error(exc, self.backup.store.root) from exc
        self.digest.update(chunk)
        self.written += len(chunk)
        if self.written - self.flushed >= self.VERIFY_STEP:
            self._flush_range()

    def _flush_range(self) -> None:
        """Hand the bytes written since the last call to the read-back thread. The flush to the
        disk happens there, so the pipeline never waits for the disk here."""
        try:
            self.fh.flush()
        except OSError as exc:
            raise store_error(exc, self.backup.store.root) from exc
        self._ranges.put((self.flushed, self.written))
        self.flushed = self.written

    def _read_back(self) -> None:
        try:
            while (item := self._ranges.get()) is not None:
                position, end = item
                # Linux syncs a file through any descriptor; then the range's pages are clean
                # and can be dropped, so the reads below come from the disk.
                os.fdatasync(self._read_fd)
                os.posix_fadvise(self._read_fd, position, end - position, os.POSIX_FADV_DONTNEED)
                while position < end:
                    block = _read_block(self._read_fd, min(checksums.CHUNK, end - position),
                                        position)
                    if not block:
                        raise OSError(errno.EIO, "short read", self.filename)
                    self._read_digest.update(block)
                    position += len(block)
        except BaseException as exc:
            self._read_error = exc
            while self._ranges.get() is not None:  # let close() finish
                pass

    def close(self) -> None:
        try:
            if self.written > self.flushed or self.written == 0:
                self._flush_range()
            self.fh.close()
        except OSError as exc:
            self.abandon()
            raise store_error(exc, self.backup.store.root) from exc
        except BaseException:
            self.abandon()
            raise
        self._ranges.put(None)
        self._reader.join()
        os.close(self._read_fd)
        written = self.digest.hexdigest()
        if self._read_error is not None or self._read_digest.hexdigest() != written:
            log.error("read-back of %s: %s", self.filename, self._read_error or "digest differs")
            raise BackupInvalid(
                _("{file} differs on the disk from what was written.").format(file=self.filename),
                _("The backup disk may be failing; use another one."))
        self.backup.sums[self.filename] = written
        self.backup.read_back.add(self.filename)

    def abandon(self) -> None:
        """Stop the read-back and close the files (the pipeline failed; the partial folder is
        removed by the store)."""
        self._ranges.put(None)
        self._reader.join()
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            os.close(self._read_fd)
