"""One error family: a message and a hint for the person in front of the screen.

The engine raises these; only the CLI turns them into exit codes and only the TUI into dialogs.
"""

from __future__ import annotations


class OscarError(Exception):
    """Base error: ``message`` says what went wrong, ``hint`` what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(OscarError):
    """Bad input from the user (unknown disk, unknown backup, bad option)."""

    exit_code = 2


class ToolMissing(OscarError):
    """An outside program that OSCAR drives is not installed."""

    exit_code = 3


class CommandFailed(OscarError):
    """An outside program exited non-zero; carries argv, exit code and the tail of stderr."""

    exit_code = 4

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

    exit_code = 5


class BackupInvalid(OscarError):
    """A backup is incomplete, corrupt or does not verify."""

    exit_code = 6


class StoreFull(OscarError):
    """The disk that holds the backups ran out of space."""

    exit_code = 7


class Aborted(OscarError):
    """The user declined the confirmation."""

    exit_code = 8


class DeployIncomplete(OscarError):
    """A deployment ended with clients that did not receive the backup."""

    exit_code = 10


class HostKeyRefused(OscarError):
    """An SSH server's key is unknown or is not the pinned one: nothing was sent."""

    exit_code = 11


class StoreReadOnly(OscarError):
    """The disk that holds the backups is mounted read-only: nothing can be written there."""

    exit_code = 12
