#!/usr/bin/python3
"""`make pot`: every message a person sees, extracted into oscar/data/locale/oscar.pot.

The code's messages come from xgettext (``_()`` and ``ngettext()``, with their ``#:`` places);
the menus' titles, labels, summaries and help texts from the YAML files (with theirs). `make po`
then merges the template into each language's .po (msgmerge), where translators work: in an
editor, Poedit or Weblate. Nothing here ever overwrites a translation.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "oscar/data/locale"
MENUS = ROOT / "oscar/data/menus"
MENU_TEXT_KEYS = ("title", "label", "summary", "help")
HEADER = """msgid ""
msgstr ""
"Project-Id-Version: oscar\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"""


def po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def menu_messages() -> dict[str, list[str]]:
    """msgid -> its places in the menu files, read with the lines YAML saw them on."""
    found: dict[str, list[str]] = {}

    def walk(node: yaml.Node, where: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value in MENU_TEXT_KEYS and isinstance(value, yaml.ScalarNode) \
                        and value.value:
                    found.setdefault(value.value.strip(), []).append(
                        f"{where}:{value.start_mark.line + 1}")
                walk(value, where)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, where)

    for path in sorted(MENUS.glob("*.yaml")):
        node = yaml.compose(path.read_text(encoding="utf-8"))
        if node is not None:
            walk(node, str(path.relative_to(ROOT)))
    return found


def write_menu_pot(target: Path) -> None:
    entries = [f"#: {' '.join(places)}\nmsgid {po_quote(msgid)}\nmsgstr \"\"\n"
               for msgid, places in menu_messages().items()]
    target.write_text(HEADER + "\n" + "\n".join(entries), encoding="utf-8")


def main() -> int:
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "oscar").rglob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        code_pot, menu_pot = Path(tmp) / "code.pot", Path(tmp) / "menus.pot"
        subprocess.run(["xgettext", "--language=Python", "--from-code=UTF-8", "--keyword=",
                        "--keyword=_", "--keyword=ngettext:1,2", "--package-name=oscar",
                        "--add-comments=TRANSLATORS:", "--sort-by-file", "-o", str(code_pot),
                        *sources], cwd=ROOT, check=True)
        write_menu_pot(menu_pot)
        subprocess.run(["msgcat", "--use-first", "-o", str(LOCALE / "oscar.pot"),
                        str(code_pot), str(menu_pot)], check=True)
    print(f"wrote {(LOCALE / 'oscar.pot').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
