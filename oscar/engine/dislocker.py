"""dislocker: open a BitLocker volume read-only (FUSE) and give its decrypted NTFS as a file.

There is no device-mapper on the machines OSCAR starts on, so cryptsetup's bitlk cannot open
a volume; dislocker's FUSE mount can. The key never goes on a command line (any process can
read /proc/PID/cmdline): a user password goes through a pipe (dislocker reads it from standard
input), a recovery password through a pseudo-terminal (dislocker reads it only from a
terminal), a startup key (.BEK) is dislocker's own file option, and a volume whose protection
is suspended opens with its clear key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from oscar.core import run
from oscar.core.errors import CommandFailed, UsageError, os_reason
from oscar.core.i18n import _
from oscar.disks.devices import BitLocker

log = logging.getLogger("oscar.dislocker")

DECRYPTED_FILE = "dislocker-file"
KINDS = ("user-password", "recovery-password", "bek-file", "clear-key")
RECOVERY = re.compile(r"(?<![\d-])(\d{6}(?:-\d{6}){7})(?![\d-])")
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
MAX_KEY_FILE = 1 << 20
MAX_CANDIDATES = 64
RECOVERY_PROMPT = b"recovery password:"
WRONG_KEY = ("None of the provided decryption mean", "Unable to grab VMK")


class Key:
    """One way to unlock a volume; its secret is never shown by repr or str."""

    __slots__ = ("kind", "secret", "key_id")

    def __init__(self, kind: str, secret: str = "", key_id: str | None = None) -> None:
        assert kind in KINDS
        self.kind = kind
        self.secret = secret  # the password, or the .BEK file's path
        self.key_id = key_id.upper() if key_id else None  # a recovery password's protector

    def __repr__(self) -> str:
        return f"Key({self.kind})"

    __str__ = __repr__


class WrongKey(UsageError):
    """No key given opens the volume."""


def recovery_problem(password: str) -> str | None:
    """Why a recovery password cannot be right (each 6-digit group of a BitLocker recovery
    password is a multiple of 11 below 720896), or None."""
    groups = password.split("-")
    if len(groups) != 8 or not all(len(g) == 6 and g.isdigit() for g in groups):
        return _("a recovery key is 8 groups of 6 digits")
    for index, group in enumerate(groups, start=1):
        if int(group) % 11 or int(group) >= 720896:
            return _("group {n} ({group}) is not a valid group: check it").format(
                n=index, group=group)
    return None


def typed_key(text: str) -> Key:
    """A key typed or piped: a recovery password (48 digits, dashes optional) or a user
    password."""
    value = text.rstrip("\r\n")
    digits = value.replace("-", "").replace(" ", "")
    if digits.isdigit() and len(digits) == 48:
        password = "-".join(digits[i:i + 6] for i in range(0, 48, 6))
        problem = recovery_problem(password)
        if problem:
            raise UsageError(_("This BitLocker recovery key is not valid: {why}.").format(
                why=problem), _("Type the 48 digits again, as Windows shows them."))
        return Key("recovery-password", password)
    if not value:
        raise UsageError(_("No BitLocker key was given."),
                         _("Type the recovery key (48 digits) or the password."))
    return Key("user-password", value)


def _text_of(data: bytes) -> str | None:
    """The text of a key file (Windows writes its recovery key file in UTF-16), or None for a
    binary file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def is_bek(data: bytes) -> bool:
    """A startup key file (.BEK): a BitLocker metadata dataset (size, version 1, header 48)."""
    if len(data) < 48:
        return False
    size, version, header = struct.unpack_from("<III", data, 0)
    return bool(version == 1 and header == 48 and 48 <= size <= len(data))


def keys_from_file(path: Path) -> list[Key]:
    """The keys a file holds: Windows' recovery key file (or any text listing recovery
    passwords, each after its identifier), a startup key (.BEK), or a text whose first line is
    the password."""
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise UsageError(_("{file} is too large to be a BitLocker key.").format(file=path),
                             _("Give Windows' recovery key file, a .BEK file or a password."))
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(_("The key file {file} cannot be read: {why}").format(
            file=path, why=os_reason(exc)), _("Check the path.")) from exc
    text = _text_of(data)
    if text is None:
        if not is_bek(data):
            raise UsageError(_("{file} is not a BitLocker key file.").format(file=path),
                             _("Give Windows' recovery key file, a .BEK file or a password."))
        return [Key("bek-file", str(path.resolve()))]
    keys = []
    for match in RECOVERY.finditer(text):
        if recovery_problem(match.group(1)) is None:
            ids = GUID.findall(text, 0, match.start())
            keys.append(Key("recovery-password", match.group(1), ids[-1] if ids else None))
    if keys:
        return keys[:MAX_CANDIDATES]
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise UsageError(_("The key file {file} is empty.").format(file=path),
                         _("Give Windows' recovery key file, a .BEK file or a password."))
    return [Key("user-password", first)]


def ordered(keys: list[Key], info: BitLocker | None) -> list[Key]:
    """The keys to try, the one whose identifier the volume names first (a file may list the
    keys of every PC of a school)."""
    ids = {i.upper() for i in (info.recovery_ids if info else [])}
    return sorted(keys, key=lambda k: 0 if k.key_id in ids else 1)


def argv(volume: str, key: Key, mountpoint: str) -> list[str]:
    """dislocker's command line: read-only, and no secret on it."""
    method = {"user-password": ["-u"], "recovery-password": ["-p"],
              "bek-file": ["-f", key.secret], "clear-key": ["-c"]}[key.kind]
    return ["dislocker", "-r", "-V", volume, *method, "--", mountpoint]


def _open_once(volume: str, key: Key, mountpoint: str) -> bool:
    """True when the key opened the volume; False when it is the wrong key."""
    command = argv(volume, key, mountpoint)
    if key.kind == "recovery-password":
        result = run.answer_on_terminal(command, key.secret, prompt=RECOVERY_PROMPT)
    elif key.kind == "user-password":
        result = run.run(command, input=key.secret.encode() + b"\n", check=False)
    else:
        result = run.run(command, check=False)
    if result.returncode == 0 and (Path(mountpoint) / DECRYPTED_FILE).exists():
        return True
    # dislocker says why on standard output (never the key: it was not typed there)
    said = result.stderr + result.stdout.decode("utf-8", "replace")
    if any(marker in said for marker in WRONG_KEY) or result.returncode == 0:
        return False
    raise CommandFailed(_("dislocker cannot open {volume}.").format(volume=volume),
                        _("See OSCAR's log."), argv=result.argv,
                        returncode=result.returncode, stderr_tail=result.stderr[-2000:])


@contextlib.contextmanager
def opened(volume: str, keys: list[Key], info: BitLocker | None = None) -> Iterator[Path]:
    """The decrypted volume (a read-only file) while the block runs; unmounted after."""
    point = Path(tempfile.mkdtemp(prefix="oscar-bitlocker-"))
    os.chmod(point, 0o700)
    try:
        for key in ordered(keys, info) if keys else [Key("clear-key")]:
            if _open_once(volume, key, str(point)):
                log.info("BitLocker volume %s opened with a %s", volume, key.kind)
                break
        else:
            raise WrongKey(_("The BitLocker key given does not open {volume}.").format(
                volume=volume), _("Check the key (recovery key ID {id}); nothing was "
                                  "saved.").format(id=_key_id(info)))
        try:
            yield point / DECRYPTED_FILE
        finally:
            _unmount(point)
    finally:
        with contextlib.suppress(OSError):
            point.rmdir()


def _key_id(info: BitLocker | None) -> str:
    return (info.recovery_key_id if info else None) or "?"


def _unmount(point: Path) -> None:
    for attempt in range(10):
        try:
            run.run(["umount", str(point)])
            return
        except CommandFailed:
            if attempt == 9:
                raise
            time.sleep(0.5)
