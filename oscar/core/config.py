"""OSCAR's configuration: one YAML file (/etc/oscar/oscar.yaml, or $OSCAR_CONFIG).

The menu password is stored as a PBKDF2 hash in GRUB's own format
(``grub.pbkdf2.sha512.ITERATIONS.SALT.HASH``, hex), so the same line can protect the GRUB
entries "OSCAR" and "restaure" and the menu; the password itself is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oscar.core import keyboard, safetext, settings
from oscar.core.errors import UsageError
from oscar.core.i18n import _

ITERATIONS = 10000  # grub-mkpasswd-pbkdf2's default
SALT_BYTES = 64
HASH_BYTES = 64


def path() -> Path:
    return settings.CONFIG.path()


@dataclass
class Config:
    password_hash: str | None = None
    store: str | None = None  # where the menu looks for backups; None: the PC's OSCAR partition
    reboot_command: list[str] = field(default_factory=lambda: ["systemctl", "reboot"])
    poweroff_command: list[str] = field(default_factory=lambda: ["systemctl", "poweroff"])
    restaure_countdown: int = 10
    # The keyboard the password is typed on at GRUB's prompt (core/keyboard.py): the hash is of
    # what GRUB receives from those keys. "us": the characters themselves (configurations
    # written before OSCAR knew of AZERTY keyboards have no such line).
    password_keyboard: str = "us"

    def to_dict(self) -> dict[str, Any]:
        return {"password_hash": self.password_hash, "password_keyboard": self.password_keyboard,
                "store": self.store,
                "reboot_command": self.reboot_command, "poweroff_command": self.poweroff_command,
                "restaure_countdown": self.restaure_countdown}


def load(where: Path | None = None) -> Config:
    where = where or path()
    if not where.exists():
        return Config()
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(_("The configuration {path} cannot be read: {why}").format(
            path=where, why=exc), _("Fix or remove the file.")) from exc
    if not isinstance(data, dict):
        raise UsageError(_("The configuration {path} cannot be read: {why}").format(
            path=where, why="not a mapping"), _("Fix or remove the file."))
    config = Config()
    for key, value in data.items():
        if not hasattr(config, key):
            raise UsageError(_("Unknown setting '{key}' in {path}.").format(key=key, path=where),
                             _("Known settings: {keys}.").format(keys=", ".join(config.to_dict())))
        setattr(config, key, value)
    if config.password_keyboard not in keyboard.LAYOUTS:
        raise UsageError(_("Unknown keyboard '{name}' in {path}.").format(
            name=safetext.shown(str(config.password_keyboard)), path=where),
            _("Known keyboards: {names}.").format(names=", ".join(keyboard.LAYOUTS)))
    if config.password_hash is not None and parse_hash(config.password_hash) is None:
        raise UsageError(_("The password hash in {path} is not a PBKDF2 hash.").format(path=where),
                         _("Set the password again with 'oscar password'."))
    return config


def save(config: Config, where: Path | None = None) -> Path:
    where = where or path()
    where.parent.mkdir(parents=True, exist_ok=True)
    tmp = where.with_name(where.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, where)
    return where


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"grub.pbkdf2.sha512.{iterations}.{salt.hex().upper()}.{digest.hex().upper()}"


def parse_hash(text: str) -> tuple[int, bytes, bytes] | None:
    parts = text.split(".")
    if len(parts) != 6 or parts[:3] != ["grub", "pbkdf2", "sha512"] or not parts[3].isdigit():
        return None
    try:
        return int(parts[3]), bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None


def set_password(config: Config, password: str, layout: str = keyboard.DEFAULT) -> None:
    """Hash what GRUB will receive when ``password`` is typed on ``layout``'s keys (the menu
    checks what it reads the same way); refused when GRUB could not receive it."""
    if keyboard.untypable(password, layout):
        raise UsageError(
            _("The password has characters the boot menu cannot read: those typed with AltGr "
              "(like @ # [ |), with a dead key (^ ¨) or the key left of W (< >)."),
            _("Choose a password of letters, digits and signs typed with Shift or without."))
    config.password_hash = hash_password(keyboard.as_grub_receives(password, layout))
    config.password_keyboard = layout


def password_matches(config: Config, typed: str) -> bool:
    """The password typed in the menu (Linux reads the real characters) against the hash of
    what GRUB receives."""
    if config.password_hash is None:
        return False
    if keyboard.untypable(typed, config.password_keyboard):
        return False
    return check_password(keyboard.as_grub_receives(typed, config.password_keyboard),
                          config.password_hash)


def check_password(password: str, hashed: str) -> bool:
    parsed = parse_hash(hashed)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)
