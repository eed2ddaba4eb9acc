"""Every message a user sees exists in French and English, with the same placeholders."""

from __future__ import annotations

import ast
import os
import re
import string
import subprocess
import sys

import pytest

from oscar.core import i18n
from oscar.ui.tui import menus
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
PO = ROOT / "oscar/data/locale/fr/LC_MESSAGES/oscar.po"
POT = ROOT / "oscar/data/locale/oscar.pot"


def messages_in_code() -> dict[str, str]:
    """Every msgid: the ``_()`` calls of the code and every string the menus show."""
    found: dict[str, str] = {m: "menus/" for m in menus.strings(menus.load())}
    for path in sorted((ROOT / "oscar").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("_", "ngettext"):
                texts = node.args[:1] if node.func.id == "_" else node.args[:2]
                for arg in texts or [None]:
                    assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), \
                        f"{path}:{node.lineno}: {node.func.id}() needs literal strings"
                    found[arg.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_message_has_a_french_translation() -> None:
    catalog = i18n.parse_po(PO.read_text(encoding="utf-8"))
    missing = {m: where for m, where in messages_in_code().items() if not catalog.get(m)}
    assert not missing, f"untranslated: {missing}"


def test_translations_keep_placeholders() -> None:
    catalog = i18n.parse_po(PO.read_text(encoding="utf-8"))
    for message in messages_in_code():
        assert fields(catalog[message]) == fields(message), message


def test_no_stale_translations() -> None:
    catalog = i18n.parse_po(PO.read_text(encoding="utf-8"))
    stale = set(catalog) - set(messages_in_code())
    assert not stale, f"translations of messages no longer in the code: {stale}"


def test_french_by_default_english_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OSCAR_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.wanted_language() == "fr"
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert i18n.wanted_language() == "en"
    monkeypatch.setenv("OSCAR_LANG", "fr")
    assert i18n.wanted_language() == "fr"
    french = i18n.load("fr")
    assert french.gettext("Interrupted.") == "Interrompu."
    assert i18n.load("en").gettext("Interrupted.") == "Interrupted."


def test_cli_speaks_french_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OSCAR_LANG", "LANG", "LC_ALL", "LANGUAGE")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "oscar", "list", "/nonexistent"], text=True,
                            capture_output=True, env=env)
    assert result.returncode == 2
    assert re.search(r"^oscar : erreur : Le dossier des sauvegardes /nonexistent n'existe pas\.$",
                     result.stderr, re.M), result.stderr
    assert "conseil : " in result.stderr


def test_no_fuzzy_translation() -> None:
    """`make po` marks new and changed messages fuzzy: a translator must look at each."""
    fuzzy = [entry.get("msgid") for entry in i18n._po_entries(PO.read_text(encoding="utf-8"))
             if "fuzzy" in entry.get("flags", "") and entry.get("msgid")]
    assert not fuzzy, f"fuzzy translations to review: {fuzzy}"


def test_the_template_holds_every_message() -> None:
    """oscar.pot is what `make pot` extracts: run it after changing a message."""
    template = {e["msgid"] for e in i18n._po_entries(POT.read_text(encoding="utf-8"))} | {
        e["msgid_plural"] for e in i18n._po_entries(POT.read_text(encoding="utf-8"))
        if "msgid_plural" in e}
    missing = sorted(set(messages_in_code()) - template)
    assert not missing, f"run 'make po': {missing}"


def test_messages_are_never_translated_inside_f_strings() -> None:
    """xgettext does not read into f-strings: a message there would never reach the catalogue."""
    hidden = []
    for path in sorted((ROOT / "oscar").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.JoinedStr):
                hidden += [f"{path.relative_to(ROOT)}:{call.lineno}" for call in ast.walk(node)
                           if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                           and call.func.id in ("_", "ngettext")]
    assert not hidden, hidden


def test_plural_forms_follow_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    french = i18n.load("fr")
    one = french.ngettext("{path}: {n} client, no problem.", "{path}: {n} clients, no problem.", 1)
    many = french.ngettext("{path}: {n} client, no problem.", "{path}: {n} clients, no problem.", 3)
    assert one == "{path} : {n} client, aucun problème."
    assert many == "{path} : {n} clients, aucun problème."
    # French says "0 client" (n > 1 is plural), English "0 clients"
    assert french.ngettext("{n} done", "{n} done", 0) == "{n} terminé"
    assert i18n.load("en").ngettext("{n} disk", "{n} disks", 0) == "{n} disks"
    # a fresh checkout without the compiled .mo reads the .po, plurals included
    catalog = i18n.PoTranslations(PO.read_text(encoding="utf-8"))
    assert catalog.ngettext("{n} refused", "{n} refused", 2) == "{n} refusés"
    assert catalog.ngettext("{n} refused", "{n} refused", 1) == "{n} refusé"


# French typography: a space (non-breaking or not) before « : ; ? ! », French units, no English
# word left in a French sentence. What is code stays as it is: placeholders, quoted commands,
# options, paths, URLs, times.
ENGLISH_WORDS = ("the", "and", "with", "none", "not", "is", "are", "this", "from", "into",
                 "yes", "no", "error", "warning", "disk", "backup", "file", "files", "found",
                 "failed", "missing", "partition table", "such", "directory", "please")
FRENCH_UNITS = re.compile(r"\d\s?(GB|MB|KB|TB|GiB|MiB)\b")
CODE = re.compile(r"'[^']*'|«[^»]*»|`[^`]*`|\{[^}]*\}|--?[\w-]+|\S+://\S+|[\w./-]*/[\w./-]+|"
                  r"\b[A-Z]:(\\\S*)?|\d+:\d+|\[[^\]]*\]|\([^)]*\b(fr|en)\b[^)]*\)|"
                  r"\b(mac|hostname|ip|prefix|gateway|dns|domain|workgroup|key|clients):")


def french_texts() -> list[tuple[str, str]]:
    catalog = i18n.parse_po(PO.read_text(encoding="utf-8"))
    return [(msgid, text) for msgid, text in catalog.items() if text]


def prose(text: str) -> str:
    return CODE.sub(" ", text)


def typography_problems(text: str) -> list[str]:
    """What is wrong with a French message: a glued « : ; ? ! », an English unit or word."""
    words = prose(text)
    found = [f"no space before {m.group(2)!r}" for m in re.finditer(r"(\S)([:;?!])(?=\s|$)", words)]
    found += [f"unit {m.group(1)}" for m in FRENCH_UNITS.finditer(text)]
    found += [f"English {w!r}" for w in ENGLISH_WORDS
              if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", words, re.I)]
    return found


def test_the_typography_check_catches_what_it_is_for() -> None:
    assert typography_problems("Nom de la sauvegarde: x") == ["no space before ':'"]
    assert typography_problems("Lancer la sauvegarde?") == ["no space before '?'"]
    assert typography_problems("il faut 2.1 GB") == ["unit GB"]
    assert typography_problems("Sauvegardes : none") == ["English 'none'"]
    assert typography_problems("No such file or directory") != []
    assert typography_problems("Lancez « oscar save --yes » : c'est fait ; 12:30 ?") == []


def test_every_french_message_reads_as_french() -> None:
    bad = [(msgid[:60], problems) for msgid, text in french_texts()
           if (problems := typography_problems(text))]
    assert not bad, "\n".join(f"{m!r}: {p}" for m, p in bad)
