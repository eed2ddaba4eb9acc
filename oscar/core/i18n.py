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
    """Minimal .po reader (msgid/msgstr with continuation lines), enough for our own catalogue.

    A plural entry gives two keys: its msgid (msgstr[0]) and its msgid_plural (msgstr[1]).
    Fuzzy entries are left out, as msgfmt leaves them out of the .mo."""
    catalog: dict[str, str] = {}
    for entry in _po_entries(text):
        if "fuzzy" in entry.get("flags", ""):
            continue
        if entry.get("msgid"):
            catalog[entry["msgid"]] = entry.get("msgstr", entry.get("msgstr[0]", ""))
        if entry.get("msgid_plural"):
            catalog[entry["msgid_plural"]] = entry.get("msgstr[1]", "")
    return catalog


def _po_entries(text: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    entry: dict[str, str] = {}
    key: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#,"):
            if "msgid" in entry:
                entries.append(entry)
                entry, key = {}, None
            entry["flags"] = line[2:]
            continue
        if not line or line.startswith("#"):
            continue
        if not line.startswith('"'):
            keyword, _space, rest = line.partition(" ")
            if keyword == "msgid" and "msgid" in entry:
                entries.append(entry)
                entry = {}
            key, line = keyword, rest
            entry[key] = ""
        if key and line.startswith('"'):
            entry[key] += _unquote(line)
    if "msgid" in entry:
        entries.append(entry)
    return entries


def _unquote(s: str) -> str:
    # PO escapes (\" \\ \n \t) are a subset of Python's string literal escapes.
    value = ast.literal_eval(s)
    return value if isinstance(value, str) else ""


class PoTranslations(gettext.NullTranslations):
    """A .po read in memory (a fresh checkout without its compiled .mo)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._catalog = parse_po(text)
        self._plurals = {e["msgid"]: (e.get("msgstr[0]", ""), e.get("msgstr[1]", ""))
                         for e in _po_entries(text)
                         if e.get("msgid_plural") and "fuzzy" not in e.get("flags", "")}

    def gettext(self, message: str) -> str:
        return self._catalog.get(message) or message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        forms = self._plurals.get(msgid1)
        if forms is None or not all(forms):
            return msgid1 if n == 1 else msgid2
        # French, the only catalogue: Plural-Forms: nplurals=2; plural=(n > 1)
        return forms[1] if n > 1 else forms[0]


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
        return PoTranslations(po.read_text(encoding="utf-8"))
    return gettext.NullTranslations()


def reset() -> None:
    """Forget the loaded catalogue (tests switch languages)."""
    global _translations
    _translations = None


def _(message: str) -> str:
    return translations().gettext(message)


def decimal(number: str) -> str:
    """A number as the language writes it: 2,1 in French, 2.1 in English."""
    return number.replace(".", ",") if wanted_language() == "fr" else number


def unit_space() -> str:
    """Between a number and its unit: French never breaks a line there (2,1 Go)."""
    return "\u00a0" if wanted_language() == "fr" else " "


def ngettext(singular: str, plural: str, n: int) -> str:
    """The message for a count: "{n} client" / "{n} clients", each language with its rule."""
    return translations().ngettext(singular, plural, n)
