"""An SSH server holding backups (`oscar export` / `oscar import`): its address, its pinned
host key, the connection (paramiko) and the SFTP helpers the transfers share.

Host keys are pinned in a known_hosts file kept in the local backup folder (on the OSCAR
medium): a key never seen is shown by its SHA256 fingerprint and used only once accepted
explicitly (typed, or --accept-host-key with that very fingerprint); a key that differs from
the pinned one is refused while connecting, before authentication, so no byte of a backup (and
no password) ever reaches an impostor. Passwords are asked or read from stdin, never stored.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko

from oscar.core.errors import HostKeyRefused, OscarError, UsageError
from oscar.core.i18n import _

log = logging.getLogger("oscar.ssh")
KNOWN_HOSTS = ".oscar-ssh-known_hosts"
_URL = re.compile(r"^ssh://(?P<user>[^@/:\s]+)@(?P<host>\[[0-9a-fA-F:]+\]|[^@/:\s]+)"
                  r"(?::(?P<port>\d{1,5}))?(?P<path>/\S*)$")


class HostKeyUnknown(HostKeyRefused):
    """The server's key is not pinned yet: its fingerprint must be accepted first."""

    def __init__(self, name: str, fingerprint: str) -> None:
        super().__init__(
            _("The SSH server {name} is unknown; its key's fingerprint is {fingerprint}.").format(
                name=name, fingerprint=fingerprint),
            _("Check it on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then "
              "run again with --accept-host-key {fingerprint}.").format(fingerprint=fingerprint))
        self.name = name
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class Remote:
    user: str
    host: str
    port: int
    path: str  # absolute, on the server

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH writes this server in known_hosts."""
        host = self.host.strip("[]")
        return host if self.port == 22 else f"[{host}]:{self.port}"

    def __str__(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"ssh://{self.user}@{self.host}{port}{self.path}"


def parse_url(url: str) -> Remote:
    match = _URL.match(url)
    port = int(match.group("port") or 22) if match else 0
    if not match or not 0 < port < 65536:
        raise UsageError(_("'{url}' is not an SSH address.").format(url=url),
                         _("Write it ssh://USER@HOST[:PORT]/PATH, e.g. "
                           "ssh://oscar@10.0.0.5/srv/oscar."))
    path = str(PurePosixPath(match.group("path")))
    return Remote(match.group("user"), match.group("host"), port, path)


def known_hosts_path(store_root: Path) -> Path:
    """Beside the backups (the PC's OSCAR partition, the USB disk): the live system's /etc is
    in memory, the medium holding the backups is what stays from one start to the next."""
    return store_root / KNOWN_HOSTS


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: SHA256:base64 without padding."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _Pinning(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Called by paramiko for a key that is not in the known_hosts file (a changed key never
    comes here: paramiko refuses it itself, as BadHostKeyException)."""

    def __init__(self, remote: Remote, accepted: str | None, known_hosts: Path) -> None:
        self.remote = remote
        self.accepted = accepted
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        seen = fingerprint(key)
        if self.accepted != seen:
            raise HostKeyUnknown(self.remote.known_hosts_name, seen)
        keys = client.get_host_keys()
        keys.add(self.remote.known_hosts_name, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        keys.save(str(self.known_hosts))
        log.info("host key of %s (%s) accepted and pinned in %s", self.remote.known_hosts_name,
                 seen, self.known_hosts)


@contextlib.contextmanager
def connect(remote: Remote, *, accept_host_key: str | None = None,
            identity: Path | None = None, password: str | None = None,
            known_hosts: Path) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session on ``remote``, its host key checked against those in ``known_hosts``."""
    pins = known_hosts
    client = paramiko.SSHClient()
    if pins.is_file():
        client.load_host_keys(str(pins))
    client.set_missing_host_key_policy(_Pinning(remote, accept_host_key, pins))
    try:
        client.connect(remote.host.strip("[]"), port=remote.port, username=remote.user,
                       key_filename=str(identity) if identity else None, password=password,
                       allow_agent=identity is None, look_for_keys=identity is None,
                       timeout=20, banner_timeout=20, auth_timeout=20)
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyRefused(
            _("The SSH server {name} does not have the key OSCAR knows (expected {expected}, "
              "got {got}): nothing was sent.").format(
                name=remote.known_hosts_name, expected=fingerprint(exc.expected_key),
                got=fingerprint(exc.key)),
            _("If the server was reinstalled, remove its line from {file} and accept the new "
              "key; otherwise someone may be impersonating it.").format(file=pins)) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        raise OscarError(_("The SSH server {name} refused the login of {user}.").format(
            name=remote.known_hosts_name, user=remote.user),
            _("Give the key with --identity, or the password with --password-stdin.")) from exc
    except HostKeyUnknown:
        client.close()
        raise
    except (OSError, paramiko.SSHException) as exc:
        client.close()
        raise OscarError(_("Cannot reach the SSH server {name}: {why}").format(
            name=remote.known_hosts_name, why=exc),
            _("Check the address, the port and the network.")) from exc
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(120)
        yield sftp
    finally:
        client.close()


def remote_exec(sftp: paramiko.SFTPClient, command: str) -> tuple[int, str]:
    """Run a command on the server (for b2sum); exit status and its output."""
    transport = sftp.get_channel().get_transport()
    channel = transport.open_session(timeout=20)
    try:
        channel.exec_command(command)
        out = b""
        while True:
            data = channel.recv(65536)
            if not data:
                break
            out += data
        return channel.recv_exit_status(), out.decode("utf-8", "replace")
    finally:
        channel.close()


def exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
        return True
    except FileNotFoundError:
        return False


def size_of(sftp: paramiko.SFTPClient, path: str) -> int | None:
    try:
        size: int = sftp.stat(path).st_size
    except FileNotFoundError:
        return None
    return size


def makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    current = PurePosixPath("/")
    for part in PurePosixPath(path).parts[1:]:
        current /= part
        if not exists(sftp, str(current)):
            sftp.mkdir(str(current))


def rmtree(sftp: paramiko.SFTPClient, path: str) -> None:
    for item in sftp.listdir_attr(path):
        child = f"{path}/{item.filename}"
        if item.st_mode is not None and stat.S_ISDIR(item.st_mode):
            rmtree(sftp, child)
        else:
            sftp.remove(child)
    sftp.rmdir(path)
