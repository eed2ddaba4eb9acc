"""What the Windows and Linux personalisations share: their Jinja2 templates, and files put
in place whole (a power cut leaves the old file or the new one, never half of one)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def powershell_word(text: str) -> str:
    """One PowerShell string literal: inside single quotes only a quote is special."""
    return "'" + text.replace("'", "''") + "'"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
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
