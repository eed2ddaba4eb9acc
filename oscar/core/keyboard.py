"""What GRUB receives when a password is typed on a French (AZERTY) keyboard.

GRUB reads the keyboard through the firmware (BIOS int 16h, UEFI's text input), which knows the
US QWERTY layout only; Debian's signed GRUB cannot load a keymap (no keylayouts module built in,
see engine/signedboot.py). A key therefore gives GRUB the character printed at the same place on
a US keyboard: "a" arrives as "q", "2" (Shift on AZERTY) as "@". OSCAR stores the hash of what
GRUB receives for the keys a French teacher presses, so the password works as typed, and the
menu in Linux (French keymap) translates what it reads the same way before checking it.

Characters typed with AltGr (@ # { [ | ...), a dead key (^ ¨) or the key left of W (< >) have
no reliable equivalent at GRUB's prompt: such a password is refused when it is set."""

from __future__ import annotations

# US key (unshifted, shifted) -> the French AZERTY characters on the same key.
_US_KEYS = ("`~", "1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*", "9(", "0)", "-_", "=+",
            "qQ", "wW", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "]}",
            "aA", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", ";:", "'\"", "\\|",
            "zZ", "xX", "cC", "vV", "bB", "nN", "mM", ",<", ".>", "/?")
_FR_KEYS = ("²", "&1", "é2", "\"3", "'4", "(5", "-6", "è7", "_8", "ç9", "à0", ")°", "=+",
            "aA", "zZ", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "$£",
            "qQ", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", "mM", "ù%", "*µ",
            "wW", "xX", "cC", "vV", "bB", "nN", ",?", ";.", ":/", "!§")


def _table(us_keys: tuple[str, ...], local_keys: tuple[str, ...]) -> dict[str, str]:
    table = {" ": " "}
    for us, local in zip(us_keys, local_keys, strict=True):
        for level, char in enumerate(local):
            table[char] = us[level]
    return table


LAYOUTS: dict[str, dict[str, str]] = {
    "fr": _table(_US_KEYS, _FR_KEYS),
    "us": {chr(c): chr(c) for c in range(0x20, 0x7F)},
}
DEFAULT = "fr"


def untypable(password: str, layout: str) -> list[str]:
    """The characters of ``password`` GRUB cannot receive from ``layout``'s keys (each once)."""
    table = LAYOUTS[layout]
    return sorted({c for c in password if c not in table})


def as_grub_receives(password: str, layout: str) -> str:
    """``password`` typed on ``layout``'s keys, as GRUB reads it (US layout). Raises ValueError
    for a character it cannot receive (see ``untypable``)."""
    table = LAYOUTS[layout]
    missing = untypable(password, layout)
    if missing:
        raise ValueError(f"{len(missing)} characters not typable at GRUB's prompt")
    return "".join(table[c] for c in password)
