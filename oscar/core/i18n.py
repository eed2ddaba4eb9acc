"""User-facing messages in French (the default, as in the seed) and English.

Source strings are English; ``oscar/data/locale/fr/LC_MESSAGES/oscar.po`` translates them. The
compiled ``.mo`` is built by ``make`` (msgfmt); when it is missing we compile the ``.po`` in
memory so a fresh checkout still speaks French.
"""

from __future__ import annotations

import ast
import gettext
import os

from oscar.core import settings
from oscar.data import LOCALE_DIR as DATA_LOCALE

LOCALE_DIR = DATA_LOCALE
DOMAIN = "oscar"


def wanted_language() -> str:
    """French unless the environment explicitly asks for English (OSCAR_LANG, then LANGUAGE/LANG)."""
    for var in (settings.LANG.name, "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


def parse_po(text: str) -> dict[str, str]:
    """Minimal .po reader (msgid/msgstr with continuation lines), enough for our own catalogue."""
    catalog: dict[str, str] = {}
    key: str | None = None
    current: list[str] = []
    msgid: list[str] = []
    msgstr: list[str] = []

    def flush() -> None:
        if msgid and "".join(msgid):
            catalog["".join(msgid)] = "".join(msgstr)

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [], []
            key, current = "id", msgid
            line = line[6:]
        elif line.startswith("msgstr "):
            key, current = "str", msgstr
            line = line[7:]
        elif not line.startswith('"'):
            continue
        if key and line.startswith('"'):
            current.append(_unquote(line))
    flush()
    return catalog


def _unquote(s: str) -> str:
    # PO escapes (\" \\ \n \t) are a subset of Python's string literal escapes.
    value = ast.literal_eval(s)
    return value if isinstance(value, str) else ""


class _PoTranslations(gettext.NullTranslations):
    def __init__(self, catalog: dict[str, str]) -> None:
        super().__init__()
        self._catalog = catalog

    def gettext(self, message: str) -> str:
        return self._catalog.get(message) or message


_translations: gettext.NullTranslations | None = None


def translations() -> gettext.NullTranslations:
    global _translations
    if _translations is None:
        _translations = load(wanted_language())
    return _translations


def load(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():
        return _PoTranslations(parse_po(po.read_text(encoding="utf-8")))
    return gettext.NullTranslations()


def reset() -> None:
    """Forget the loaded catalogue (tests switch languages)."""
    global _translations
    _translations = None


def _(message: str) -> str:
    return translations().gettext(message)
