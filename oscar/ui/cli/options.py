"""The options several verbs share, each declared once, and the argparse types they use."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from oscar.core.errors import UsageError
from oscar.core.i18n import _


def disk(parser: argparse.ArgumentParser, *, required: bool = True,
         help: str | None = None) -> None:
    parser.add_argument("--disk", required=required,
                        help=help or _("path or identity from 'oscar probe'"))


def store(parser: argparse.ArgumentParser, *, required: bool = True,
          help: str | None = None) -> None:
    parser.add_argument("--store", required=required, help=help or _("backup folder"))


def name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help=_("backup name"))


def parts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", help=_("partition numbers, e.g. 1,2"))


def dry_run(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help=help or _("print the plan, change nothing"))


def yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))


def image(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", help=_("folder holding the live system (vmlinuz, initrd.img, "
                                          "filesystem.squashfs)"))


def no_password(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-password", action="store_true",
                        help=_("leave OSCAR and restaure unprotected"))


def interface(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interface", help=_("network interface (default: the only one up)"))


def layout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layout", default="proportional", choices=("proportional", "grow-last", "keep"),
        help=_("on a disk of another size: scale every partition (proportional), give the "
               "difference to the last data partition (grow-last), or keep the saved sizes"))


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused with the range otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            value = low - 1
        if not low <= value <= high or text.strip() != text:
            raise argparse.ArgumentTypeError(
                _("'{text}' is not a whole number from {low} to {high}").format(
                    text=text.strip(), low=low, high=high))
        return value

    return parse


def parse_parts(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        numbers = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise UsageError(_("'{text}' is not a list of partition numbers.").format(text=text),
                         _("Write them like --parts 1,2.")) from exc
    if not numbers or any(n <= 0 for n in numbers):
        raise UsageError(_("'{text}' is not a list of partition numbers.").format(text=text),
                         _("Write them like --parts 1,2."))
    return numbers
