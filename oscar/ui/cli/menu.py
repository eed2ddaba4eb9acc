"""`oscar tui`: the menu, or restaure."""

from __future__ import annotations

import argparse

from oscar.core.i18n import _
from oscar.ui.cli import options


def add_tui(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tui", help=_("the OSCAR menu"))
    p.add_argument("--restaure", action="store_true",
                   help=_("restore this PC's newest backup, then reboot (for everyone)"))
    options.store(p, required=False, help=_("backup folder (default: the PC's OSCAR partition)"))
    p.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    from oscar.ui.tui.main import main as tui_main

    return tui_main(restaure=args.restaure, store=args.store)
