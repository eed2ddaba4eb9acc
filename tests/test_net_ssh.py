"""SSH export and import against a real OpenSSH server (Debian's sshd) started here on
127.0.0.1 with its own host key and a throwaway client key; the backup is a real save of the
lab's model PC. Round trip with checksums, an upload killed with -9 then resumed, a changed
host key refused before anything is sent, a damaged copy on the server never imported."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, LabDisks, flip_a_byte, make_lab, oscar, sh

pytestmark = pytest.mark.net


@dataclass
class Server:
    folder: Path  # its keys, config and log
    port: int
    proc: subprocess.Popen[bytes]
    client_key: Path
    known_hosts: Path
    backups: Path  # where exports go, on the server
    log: Path

    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{self.backups}"

    def fingerprint(self) -> str:
        line = sh("ssh-keygen", "-l", "-E", "sha256", "-f", str(self.folder / "hostkey.pub")).stdout
        return line.split()[1]

    def ssh_args(self, *extra: str) -> list[str]:
        return ["--identity", str(self.client_key), "--known-hosts", str(self.known_hosts),
                *extra]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_sshd(folder: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation folder
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'hostkey'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\n"
        "LogLevel VERBOSE\n")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    end = time.monotonic() + 20
    while time.monotonic() < end:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise AssertionError(f"sshd ended: {log.read_text()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("sshd never listened")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("sshd")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "hostkey"))
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "client"))
    shutil.copy(folder / "client.pub", folder / "authorized_keys")
    port = _free_port()
    log = folder / "sshd.log"
    server = Server(folder, port, _start_sshd(folder, port, log), folder / "client",
                    folder / "known_hosts", folder / "srv/oscar", log)
    try:
        yield server
    finally:
        _stop(server.proc)  # the one running now: a test may have restarted it


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("ssh-lab"), gpt=False, clients=0) as disks:
        saved = oscar("save", "--disk", disks.model, "--store", str(disks.store), "--name",
                      "pc07", "--yes")
        assert saved.returncode == 0, saved.stderr
        yield disks


def kill_midway(partial: Path, *argv: str) -> None:
    """Run a transfer slowed to 2 MB/s and kill it with -9 once 4 MB sit in ``partial``."""
    env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "oscar", *argv, "--max-rate", "2M"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 120
    while time.monotonic() < end and proc.poll() is None:
        there = sum(p.stat().st_size for p in partial.iterdir()) if partial.is_dir() else 0
        if there >= 4 << 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the {argv[0]} ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_server_never_seen_is_trusted_only_by_its_fingerprint(server: Server,
                                                                 lab: LabDisks) -> None:
    refused = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                    *server.ssh_args())
    assert refused.returncode == 11, refused.stdout + refused.stderr
    assert server.fingerprint() in refused.stderr and "--accept-host-key" in refused.stderr
    assert not server.backups.exists() and not server.known_hosts.exists()
    wrong = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                  *server.ssh_args("--accept-host-key", "SHA256:" + "A" * 43))
    assert wrong.returncode == 11 and not server.backups.exists()
    accepted = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to",
                     server.url(), *server.ssh_args("--accept-host-key", server.fingerprint()))
    assert accepted.returncode == 0, accepted.stderr
    assert f"[127.0.0.1]:{server.port} ssh-ed25519 " in server.known_hosts.read_text()
    assert files_of(server.backups / "pc07") == files_of(lab.store / "pc07")
    checked = sh("b2sum", "--quiet", "-c", "B2SUMS", cwd=str(server.backups / "pc07"),
                 check=False)
    assert checked.returncode == 0, checked.stdout
    assert sorted(os.listdir(server.backups)) == ["pc07"]  # no partial, no old copy left


def test_round_trip_export_then_import(server: Server, lab: LabDisks, tmp_path: Path) -> None:
    pinned = ("--accept-host-key", server.fingerprint())
    exported = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to",
                     server.url(), *server.ssh_args(*pinned))
    assert exported.returncode == 0, exported.stderr
    local = tmp_path / "other-store"
    local.mkdir()
    pinned_again = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to",
                         server.url(), *server.ssh_args())  # pinned now: no flag needed
    assert pinned_again.returncode == 0, pinned_again.stderr
    # by default the pins live in the local backup folder (the OSCAR medium), not in /etc
    imported = oscar("import", "--from", server.url(), "--name", "pc07", "--store", str(local),
                     "--identity", str(server.client_key), *pinned)
    assert imported.returncode == 0, imported.stderr
    assert "ssh-ed25519" in (local / ".oscar-ssh-known_hosts").read_text()
    verify = oscar("verify", str(local / "pc07"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert files_of(local / "pc07") == files_of(lab.store / "pc07")
    listing = json.loads(oscar("list", str(local), "--json").stdout)
    assert [(b["name"], b["state"]) for b in listing] == [("pc07", "complete")]


def test_a_killed_upload_keeps_the_previous_backup_and_resumes(server: Server, lab: LabDisks,
                                                               tmp_path: Path) -> None:
    pinned = server.ssh_args("--accept-host-key", server.fingerprint())
    first = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                  *pinned)
    assert first.returncode == 0, first.stderr
    previous = files_of(server.backups / "pc07")
    # a newer backup of the same PC, then its upload killed midway
    saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "pc07",
                  "--yes")
    assert saved.returncode == 0, saved.stderr
    assert files_of(lab.store / "pc07") != previous
    partial = server.backups / ".oscar-partial-pc07"
    kill_midway(partial, "export", "--store", str(lab.store), "--name", "pc07", "--to",
                server.url(), *pinned)
    assert files_of(server.backups / "pc07") == previous  # the server's backup is intact
    assert partial.is_dir()
    rerun = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                  *pinned)
    assert rerun.returncode == 0, rerun.stderr
    assert "Resumed:" in rerun.stdout + rerun.stderr
    assert files_of(server.backups / "pc07") == files_of(lab.store / "pc07")
    assert sorted(os.listdir(server.backups)) == ["pc07"]


def test_a_changed_host_key_is_refused_before_anything_is_sent(server: Server, lab: LabDisks,
                                                               tmp_path: Path) -> None:
    pinned = server.ssh_args("--accept-host-key", server.fingerprint())
    assert oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                 *pinned).returncode == 0
    before = sorted(os.listdir(server.backups))
    # the same address, another machine: a new host key
    _stop(server.proc)
    for name in ("hostkey", "hostkey.pub"):
        (server.folder / name).rename(server.folder / f"{name}.orig")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(server.folder / "hostkey"))
    impostor_log = tmp_path / "impostor.log"
    impostor = _start_sshd(server.folder, server.port, impostor_log)
    try:
        saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name",
                      "secret", "--yes")
        assert saved.returncode == 0, saved.stderr
        for extra in ((), ("--accept-host-key", server.fingerprint())):
            refused = oscar("export", "--store", str(lab.store), "--name", "secret", "--to",
                            server.url(), *server.ssh_args(*extra))
            assert refused.returncode == 11, refused.stdout + refused.stderr
            assert "does not have the key OSCAR knows" in refused.stderr
            assert "nothing was sent" in refused.stderr and "hint:" in refused.stderr
        assert sorted(os.listdir(server.backups)) == before
        assert "Accepted publickey" not in impostor_log.read_text()  # never even logged in
    finally:
        _stop(impostor)
        for name in ("hostkey", "hostkey.pub"):
            (server.folder / f"{name}.orig").replace(server.folder / name)
        server.proc = _start_sshd(server.folder, server.port, server.log)


def test_a_damaged_copy_on_the_server_is_never_imported(server: Server, lab: LabDisks,
                                                        tmp_path: Path) -> None:
    pinned = server.ssh_args("--accept-host-key", server.fingerprint())
    assert oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                 *pinned).returncode == 0
    local = tmp_path / "store"
    local.mkdir()
    assert oscar("import", "--from", server.url(), "--name", "pc07", "--store", str(local),
                 *pinned).returncode == 0
    before = files_of(local / "pc07")
    image = max((p for p in (server.backups / "pc07").iterdir() if p.is_file()),
                key=lambda p: p.stat().st_size)
    flip_a_byte(image)
    refused = oscar("import", "--from", server.url(), "--name", "pc07", "--store", str(local),
                    *pinned)
    assert refused.returncode == 6, refused.stdout + refused.stderr
    assert f"{image.name} of the backup do not match" in refused.stderr
    assert "hint:" in refused.stderr
    assert files_of(local / "pc07") == before
    listing = json.loads(oscar("list", str(local), "--json").stdout)
    assert [(b["name"], b["state"]) for b in listing] == [("pc07", "complete")]
    # what arrived intact waits for the next import; the damaged file does not
    assert not (local / ".oscar-partial-pc07" / image.name).exists()


def test_a_killed_import_resumes(server: Server, lab: LabDisks, tmp_path: Path) -> None:
    pinned = server.ssh_args("--accept-host-key", server.fingerprint())
    assert oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", server.url(),
                 *pinned).returncode == 0
    local = tmp_path / "store"
    local.mkdir()
    partial = local / ".oscar-partial-pc07"
    kill_midway(partial, "import", "--from", server.url(), "--name", "pc07", "--store",
                str(local), *pinned)
    assert json.loads(oscar("list", str(local), "--json").stdout) == []  # nothing half-listed
    rerun = oscar("import", "--from", server.url(), "--name", "pc07", "--store", str(local),
                  *pinned)
    assert rerun.returncode == 0, rerun.stderr
    assert "Resumed:" in rerun.stdout + rerun.stderr
    assert oscar("verify", str(local / "pc07")).returncode == 0
    assert files_of(local / "pc07") == files_of(server.backups / "pc07")
    assert not partial.exists()


def test_bad_addresses_say_how_to_write_them(lab: LabDisks) -> None:
    for url in ("scp://root@host/x", "ssh://host/x", "ssh://root@host:99999/x",
                "ssh://root@host"):
        result = oscar("export", "--store", str(lab.store), "--name", "pc07", "--to", url)
        assert result.returncode == 2, (url, result.stderr)
        assert "is not an SSH address" in result.stderr and "ssh://USER@HOST" in result.stderr
