"""Questions on the terminal: the plan and its confirmation, yes/no."""

from __future__ import annotations

import sys

from oscar.core.errors import Aborted
from oscar.core.i18n import _
from oscar.ops.plan import Plan


def confirm(plan: Plan, assume_yes: bool, question: str, typed: str | None = None) -> None:
    """Show the plan, then ask. ``typed``: the word (the disk's name) that must be typed,
    for what erases a whole disk; otherwise yes/oui."""
    print(plan.render())
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise Aborted(_("Confirmation needed, and there is no terminal to ask."),
                      _("Add --yes to confirm on the command line."))
    answer = input(question + " ").strip()
    if answer != typed if typed is not None else answer.lower() not in ("oui", "yes", "o", "y"):
        raise Aborted(_("Cancelled; nothing was written."))


def ask_yes_no(question: str) -> bool:
    """A yes/no question on the terminal; no terminal means no."""
    if not sys.stdin.isatty():
        return False
    answer = input(question + " " + _("[y/N] ")).strip().lower()
    return answer in ("y", "yes", "o", "oui")
