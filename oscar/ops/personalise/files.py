"""What the Windows and Linux personalisations share: their Jinja2 templates, and files put
in place whole (a power cut leaves the old file or the new one, never half of one)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

from oscar.data import PERSONALISE_TEMPLATES

TEMPLATES = PERSONALISE_TEMPLATES


# PowerShell ends a single-quoted string on any of these (about_Quoting_Rules: the ASCII
# apostrophe and the typographic single quotes U+2018-U+201B), and reads two in a row as one.
POWERSHELL_QUOTES = "'\u2018\u2019\u201a\u201b"


def powershell_word(text: object) -> str:
    """One PowerShell string literal: inside single quotes only a quote is special, and every
    character PowerShell takes for one is doubled."""
    return "'" + "".join(ch * 2 if ch in POWERSHELL_QUOTES else ch for ch in str(text)) + "'"


def environment() -> jinja2.Environment:
    # XML templates are escaped by Jinja2 itself: no value can open a tag or an entity.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True,
                             autoescape=jinja2.select_autoescape(
                                 enabled_extensions=("xml.j2",), default=False,
                                 default_for_string=False))
    env.filters["sh"] = shlex.quote
    env.filters["ps"] = powershell_word
    return env


def render(template: str, **values: object) -> str:
    return environment().get_template(template).render(**values)


def replace_file(path: Path, text: str, mode: int | None = None) -> None:
    """``text`` in place of ``path``: written beside it, then renamed over it (the owner of
    a new file is root, as on the clone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".oscar-new")
    tmp.write_text(text, encoding="utf-8")
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
