"""`oscar export` and `oscar import`: a backup to and from an SSH server, over SFTP.

Export: the backup is uploaded into ``PATH/.oscar-partial-NAME`` on the server; a file already
there from an interrupted upload is continued from where it stopped (resumable). Every local
file is hashed while it is read and compared with the backup's B2SUMS (a damaged backup is
never exported). Once everything is there, the server checks the copy itself (``b2sum -c``;
where the account has no shell, OSCAR reads the files back), then the partial folder takes the
name ``NAME`` by renames: until that instant the server's previous ``NAME`` is untouched.

Import: the files are read from ``PATH/NAME`` into the local store's partial folder (kept
when the import is cut, continued by the next one), then read back from the local disk and
checked against the server's B2SUMS, then swapped in (store.py).
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from oscar.backups import checksums, manifest
from oscar.backups.store import OLD, PARTIAL, PartialBackup, Store, check_name
from oscar.core import cancel
from oscar.core.errors import BackupInvalid, OscarError
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.net.ssh.remote import (
    Remote,
    connect,
    exists,
    known_hosts_path,
    makedirs,
    remote_exec,
    rmtree,
    size_of,
)

log = logging.getLogger("oscar.ssh")
BLOCK = 1 << 20


@dataclass
class SshOptions:
    accept_host_key: str | None = None
    identity: Path | None = None
    password: str | None = None
    known_hosts: Path | None = None
    max_rate: int | None = None  # bytes per second; None: as fast as the network goes


class _Pace:
    """Keeps a transfer under ``rate`` bytes per second (a school's link is shared)."""

    def __init__(self, rate: int | None) -> None:
        self.rate = rate
        self.began = time.monotonic()
        self.sent = 0

    def __call__(self, count: int) -> None:
        self.sent += count
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.began)
            if ahead > 0:
                time.sleep(ahead)


def _complete_entry(store: Store, name: str) -> tuple[Path, dict[str, str]]:
    entry = store.get(name)
    if entry.state != "complete" or entry.manifest is None:
        raise BackupInvalid(_("The backup '{name}' is {state}; only a complete backup is "
                              "copied.").format(name=name, state=entry.state),
                            _("Verify it with 'oscar verify', or copy another backup."))
    return entry.folder, checksums.read(entry.folder)


def export(store: Store, name: str, remote: Remote, opts: SshOptions,
           progress: Progress) -> str:
    """Upload backup ``name``; returns its folder on the server."""
    folder, sums = _complete_entry(store, name)
    files = [*sorted(sums), checksums.FILE]
    total = sum((folder / f).stat().st_size for f in files)
    final = f"{remote.path}/{name}"
    partial = f"{remote.path}/{PARTIAL}{name}"
    pace = _Pace(opts.max_rate)
    with connect(remote, accept_host_key=opts.accept_host_key, identity=opts.identity,
                 password=opts.password,
                 known_hosts=opts.known_hosts or known_hosts_path(store.root)) as sftp:
        makedirs(sftp, remote.path)
        if not exists(sftp, partial):
            sftp.mkdir(partial)
        progress.start(_("export of {name}").format(name=name), total)
        done = 0
        resumed = 0
        for filename in files:
            local = folder / filename

            def report(sent: int, base: int = done) -> None:
                progress.update((base + sent) / total if total else 1.0)

            already = _upload(sftp, local, f"{partial}/{filename}", sums.get(filename), pace,
                              report)
            resumed += already
            done += local.stat().st_size
        progress.finish()
        if resumed:
            log.info("export of %s resumed: %d bytes were already on the server", name, resumed)
            progress.message(_("Resumed: {size} were already on the server.").format(
                size=_size(resumed)))
        _check_remote(sftp, partial, folder, files)
        _publish(sftp, remote.path, name, partial, final)
    log.info("exported %s to %s", name, f"{remote}/{name}")
    return final


def _size(count: int) -> str:
    from oscar.disks.devices import human_size

    return human_size(count)


def _upload(sftp: paramiko.SFTPClient, local: Path, target: str, expected: str | None,
            pace: _Pace, on_bytes: Callable[[int], None]) -> int:
    """Send ``local`` to ``target``, continuing a shorter file already there; returns how many
    bytes were already there. The whole local file is hashed on the way."""
    size = local.stat().st_size
    there = size_of(sftp, target) or 0
    if there > size:
        sftp.remove(target)
        there = 0
    digest = checksums.new_hash()
    with local.open("rb") as src:
        position = 0
        while position < there:  # the part already sent: hashed, not sent again
            block = src.read(min(BLOCK, there - position))
            digest.update(block)
            position += len(block)
        with sftp.open(target, "r+b" if there else "wb") as dst:
            dst.set_pipelined(True)
            dst.seek(there)
            while block := src.read(BLOCK):
                cancel.check()
                digest.update(block)
                dst.write(block)
                position += len(block)
                pace(len(block))
                on_bytes(position)
    if expected is not None and digest.hexdigest() != expected:
        raise BackupInvalid(
            _("{file} of the backup does not match its checksum.").format(file=local.name),
            _("The backup is damaged here; nothing was published on the server."))
    return there


def _check_remote(sftp: paramiko.SFTPClient, partial: str, folder: Path,
                  files: list[str]) -> None:
    """The server's copy matches B2SUMS: checked there by b2sum, or read back through SFTP
    when the account cannot run it. A file that differs is removed (the next run sends it
    again) and the export fails."""
    status, output = remote_exec(sftp, f"cd {shlex.quote(partial)} && b2sum --quiet -c "
                                       f"{checksums.FILE}")
    if status == 0:
        return
    bad: list[str] = []
    if status == 1 and "FAILED" in output:
        bad = [line.split(":", 1)[0] for line in output.splitlines() if "FAILED" in line]
    else:  # no b2sum or no shell there: read the copy back
        log.info("b2sum not usable on the server (exit %d): reading the copy back", status)
        sums = checksums.read(folder)
        for filename in files:
            if filename == checksums.FILE:
                continue
            digest = checksums.new_hash()
            with sftp.open(f"{partial}/{filename}", "rb") as fh:
                fh.prefetch()
                while block := fh.read(BLOCK):
                    digest.update(block)
            if digest.hexdigest() != sums[filename]:
                bad.append(filename)
    if bad:
        for filename in bad:
            sftp.remove(f"{partial}/{filename}")
        raise BackupInvalid(_("On the server, {files} did not arrive intact.").format(
            files=", ".join(bad)), _("Run the same export again: only those files are sent "
                                     "again."))


def _download(sftp: paramiko.SFTPClient, source: str, target: Path,
              on_bytes: Callable[[int], None]) -> int:
    """Fetch ``source`` into ``target``, continuing a shorter file an interrupted import left;
    returns how many bytes were already there."""
    size = sftp.stat(source).st_size
    there = target.stat().st_size if target.exists() else 0
    if there > size:
        target.unlink()
        there = 0
    with sftp.open(source, "rb") as src, target.open("ab") as dst:
        src.seek(there)
        src.prefetch(size - there)
        while block := src.read(BLOCK):
            cancel.check()
            dst.write(block)
            on_bytes(len(block))
    return there


def _check_local(backup: PartialBackup, sums: dict[str, str]) -> None:
    """Every file as the disk holds it (flushed, its cache dropped) against the server's
    B2SUMS; one that differs is removed, so that the next import fetches it again."""
    bad = []
    for filename, expected in sums.items():
        path = backup.folder / filename
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if checksums.hash_file(path, drop_cache=True) != expected:
            bad.append(filename)
            path.unlink()
            continue
        if filename != manifest.FILE:  # publish() rewrites the manifest, then sums it again
            backup.sums[filename] = expected
            backup.read_back.add(filename)
    if bad:
        raise BackupInvalid(_("{files} of the backup do not match their checksums.").format(
            files=", ".join(sorted(bad))),
            _("The copy on the server is damaged; the local backups are as they were."))


def _publish(sftp: paramiko.SFTPClient, base: str, name: str, partial: str, final: str) -> None:
    old = f"{base}/{OLD}{name}"
    if exists(sftp, old):
        rmtree(sftp, old)
    if exists(sftp, final):
        sftp.posix_rename(final, old)
        sftp.posix_rename(partial, final)
        rmtree(sftp, old)
    else:
        sftp.posix_rename(partial, final)


def import_backup(remote: Remote, name: str, store: Store, opts: SshOptions,
                  progress: Progress) -> Path:
    """Download backup ``name`` from the server into ``store``; returns its folder."""
    check_name(name)
    store.check_writable()
    source = f"{remote.path}/{name}"
    pace = _Pace(opts.max_rate)
    with connect(remote, accept_host_key=opts.accept_host_key, identity=opts.identity,
                 password=opts.password,
                 known_hosts=opts.known_hosts or known_hosts_path(store.root)) as sftp:
        if not exists(sftp, f"{source}/{manifest.FILE}"):
            raise OscarError(_("No backup named '{name}' in {remote}.").format(
                name=name, remote=remote), _("Check the name and the folder on the server."))
        with sftp.open(f"{source}/{checksums.FILE}", "rb") as fh:
            sums = checksums.parse(fh.read(1 << 20).decode("utf-8", "replace"))
        with sftp.open(f"{source}/{manifest.FILE}", "rb") as fh:
            raw_manifest = fh.read(manifest.MAX_SIZE + 1)
        total = sum(sftp.stat(f"{source}/{f}").st_size for f in sums)
        progress.start(_("import of {name}").format(name=name), total)
        done = resumed = 0

        def received(count: int) -> None:
            nonlocal done
            done += count
            pace(count)
            progress.update(done / total if total else 1.0)

        store.recover()
        with store.writing(name, resume=True) as backup:
            (backup.folder / manifest.FILE).write_bytes(raw_manifest)
            man = manifest.load(backup.folder)  # checked like any backup's manifest
            for filename in sorted(sums):
                if filename != manifest.FILE:
                    there = _download(sftp, f"{source}/{filename}", backup.folder / filename,
                                      received)
                    resumed += there
                    done += there
            if resumed:
                log.info("import of %s resumed: %d bytes were already here", name, resumed)
                progress.message(_("Resumed: {size} were already here.").format(
                    size=_size(resumed)))
            _check_local(backup, sums)
            folder = backup.publish(man)
        progress.finish()
    log.info("imported %s from %s into %s", name, remote, folder)
    return folder
