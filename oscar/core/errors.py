"""One error family: a message and a hint for the person in front of the screen.

The engine raises these; only the CLI turns them into exit codes and only the TUI into dialogs.
"""

from __future__ import annotations

import errno
from enum import IntEnum

from oscar.core.i18n import _


class Exit(IntEnum):
    """Every exit code of the `oscar` command, in one place (docs/architecture.md lists them)."""

    OK = 0
    GENERIC = 1
    USAGE = 2  # bad input: unknown disk or backup, bad option
    TOOL_MISSING = 3
    COMMAND_FAILED = 4
    TARGET_REFUSED = 5  # a safety check refused the disk; nothing written
    BACKUP_INVALID = 6
    STORE_FULL = 7
    NOT_CONFIRMED = 8
    NTFS_NOT_CLEAN = 9  # hibernated, dirty or damaged Windows partition
    DEPLOY_INCOMPLETE = 10
    HOST_KEY_REFUSED = 11
    STORE_READ_ONLY = 12
    INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE: a bug of OSCAR's, not the person's input
    INTERRUPTED = 130  # Ctrl+C, as shells report SIGINT


class OscarError(Exception):
    """Base error: ``message`` says what went wrong, ``hint`` what to do about it."""

    exit_code: int = Exit.GENERIC

    def __init__(self, message: str, hint: str = "", *, menu_hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The hint in the menu, when the command line's names options the menu has not
        # (--image, make image): what to do there instead.
        self.menu_hint = menu_hint

    def __str__(self) -> str:
        return self.message


class UsageError(OscarError):
    """Bad input from the user (unknown disk, unknown backup, bad option)."""

    exit_code: int = Exit.USAGE


class ToolMissing(OscarError):
    """An outside program that OSCAR drives is not installed."""

    exit_code: int = Exit.TOOL_MISSING


class CommandFailed(OscarError):
    """An outside program exited non-zero; carries argv, exit code and the tail of stderr."""

    exit_code: int = Exit.COMMAND_FAILED

    def __init__(
        self, message: str, hint: str = "", *, argv: list[str] | None = None,
        returncode: int | None = None, stderr_tail: str = "",
    ) -> None:
        super().__init__(message, hint)
        self.argv = argv or []
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class TargetRefused(OscarError):
    """A target disk or partition failed a safety check; nothing was written."""

    exit_code: int = Exit.TARGET_REFUSED


class BackupInvalid(OscarError):
    """A backup is incomplete, corrupt or does not verify."""

    exit_code: int = Exit.BACKUP_INVALID


class StoreFull(OscarError):
    """The disk that holds the backups ran out of space."""

    exit_code: int = Exit.STORE_FULL


class Aborted(OscarError):
    """The user declined the confirmation."""

    exit_code: int = Exit.NOT_CONFIRMED


class NtfsNotClean(OscarError):
    """Windows left its partition hibernated, dirty or damaged (ntfs-3g.probe said so)."""

    exit_code = Exit.NTFS_NOT_CLEAN


class DeployIncomplete(OscarError):
    """A deployment ended with clients that did not receive the backup."""

    exit_code: int = Exit.DEPLOY_INCOMPLETE


class HostKeyRefused(OscarError):
    """An SSH server's key is unknown or is not the pinned one: nothing was sent."""

    exit_code: int = Exit.HOST_KEY_REFUSED


class StoreReadOnly(OscarError):
    """The disk that holds the backups is mounted read-only: nothing can be written there."""

    exit_code: int = Exit.STORE_READ_ONLY


def os_reason(exc: OSError) -> str:
    """The system's reason in the person's language (Python gives the C library's English:
    "No such file or directory" on a French screen)."""
    reasons = {
        errno.ENOENT: _("no such file or folder"),
        errno.EACCES: _("permission denied"),
        errno.EPERM: _("operation not permitted"),
        errno.ENOSPC: _("no space left on the disk"),
        errno.EROFS: _("the disk is read-only"),
        errno.EIO: _("input/output error (the disk may be failing)"),
        errno.ENOTDIR: _("not a folder"),
        errno.EISDIR: _("is a folder"),
        errno.EEXIST: _("already exists"),
        errno.EBUSY: _("in use"),
        errno.ENODEV: _("no such device"),
        errno.ENXIO: _("no such device"),
        errno.ENOTEMPTY: _("the folder is not empty"),
        errno.EDQUOT: _("disk quota exceeded"),
        errno.ECONNREFUSED: _("connection refused"),
        errno.ETIMEDOUT: _("timed out"),
        errno.EHOSTUNREACH: _("host unreachable"),
        errno.ENETUNREACH: _("network unreachable"),
        errno.EADDRINUSE: _("address already in use"),
    }
    if exc.errno in reasons:
        return reasons[exc.errno]
    return exc.strerror or type(exc).__name__
