"""The command line: verbs mirror the menu items. Errors become one line, a hint and an exit code.

Each group of verbs lives in its own module (disks, backups, bootmenu, usbdisk, remote, deploy,
pxe, menu, lab) beside the functions that run them; VERBS gives their order in `oscar --help`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from oscar import __version__
from oscar.core import oplog
from oscar.core.errors import Exit, OscarError
from oscar.core.i18n import _
from oscar.ui.cli import backups, bootmenu, deploy, disks, lab, menu, pxe, remote, usbdisk

log = logging.getLogger("oscar.cli")

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
VERBS: tuple[Register, ...] = (
    disks.add_probe, backups.add_save, backups.add_list, backups.add_delete, backups.add_verify,
    backups.add_restore, disks.add_prepare, bootmenu.add_install, bootmenu.add_grub,
    usbdisk.add_usbdisk, backups.add_copy, remote.add_export, remote.add_import,
    deploy.add_deploy, pxe.add_pxe, deploy.add_personalise, deploy.add_clients, menu.add_tui,
    bootmenu.add_password, lab.add_lab)
INTERNAL_ERROR = Exit.INTERNAL_ERROR


def setup_logging(verbose: bool) -> None:
    root = logging.getLogger("oscar")
    root.setLevel(logging.DEBUG)
    handler = oplog.open_main_log()
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(ConsoleFormatter("%(name)s: %(message)s"))
    root.addHandler(console)


class ConsoleFormatter(logging.Formatter):
    """The screen gets the message; a traceback goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info = bare.exc_text = bare.stack_info = None
        return super().format(bare)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oscar", description=_(
        "OSCAR: save, restore and deploy the PCs of a school."))
    parser.add_argument("--version", action="version", version=f"oscar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_("show the log"))
    sub = parser.add_subparsers(dest="command", required=True)
    for register in VERBS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    log.info("oscar %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except OscarError as exc:
        print(_("oscar: error: {message}").format(message=exc.message), file=sys.stderr)
        if exc.hint:
            print(_("hint: {hint}").format(hint=exc.hint), file=sys.stderr)
        log.info("error: %s (%s)", exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("Interrupted."), file=sys.stderr)
        return Exit.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the person gets one line; the log keeps the rest
        log.error("internal error", exc_info=exc)
        print(_("oscar: internal error ({kind}), see {log}").format(
            kind=type(exc).__name__, log=oplog.main_log()), file=sys.stderr)
        print(_("hint: {hint}").format(hint=_(
            "This is a defect of OSCAR: keep the log and report it.")), file=sys.stderr)
        return INTERNAL_ERROR
