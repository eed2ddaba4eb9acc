"""`oscar install`, `grub --repair` and `password`: OSCAR and its boot menu on a PC's disk."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oscar.core.errors import UsageError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import TerminalProgress
from oscar.disks import probe
from oscar.disks.devices import Disk
from oscar.ui.cli import options
from oscar.ui.cli.ask import confirm

if TYPE_CHECKING:
    from oscar.ops.bootinstall import InstallOptions


def boot_menu_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--default", help=_("entry started after the timeout: an id shown by "
                                       "--dry-run (windows-1, linux-2...) or 'first'"))
    # checked by the installer, with its hint (0 to 600)
    p.add_argument("--timeout", type=int, help=_("seconds before the default entry starts"))
    p.add_argument("--backup", help=_("backup restaure uses (default: the newest of the "
                                      "PC; '' to go back to that)"))
    p.add_argument("--lang", choices=("fr", "en"), help=_("language of OSCAR and restaure"))
    options.image(p)
    options.no_password(p)
    options.dry_run(p, help=_("print the plan and the menu, change nothing"))
    options.yes(p)


def add_install(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("install", help=_("install OSCAR and its boot menu on a PC's disk"))
    options.disk(p)
    boot_menu_options(p)
    p.set_defaults(func=cmd_install)


def add_grub(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("grub", help=_("the boot menu of a PC's disk"))
    p.add_argument("--repair", action="store_true", required=True,
                   help=_("write the menu and the boot code again (a system was added, a "
                          "backup changed, Windows overwrote the boot code)"))
    options.disk(p, required=False, help=_("path or identity from 'oscar probe' (default: the "
                                           "disk that has OSCAR's boot menu)"))
    boot_menu_options(p)
    p.set_defaults(func=cmd_grub)


def _install_options(args: argparse.Namespace, *, repair: bool) -> InstallOptions:
    from oscar.core import config as configuration
    from oscar.ops.bootinstall import InstallOptions

    return InstallOptions(
        image_dir=Path(args.image) if args.image else None, default=args.default,
        timeout=args.timeout, backup=args.backup, lang=args.lang,
        password_hash=configuration.load().password_hash, no_password=args.no_password,
        repair=repair)


def _run_install(disk: Disk, args: argparse.Namespace, *, repair: bool) -> int:
    from oscar.ops.bootinstall import Installer

    installer = Installer(disk, _install_options(args, repair=repair), TerminalProgress())
    try:
        if args.dry_run:
            print(installer.plan.render())
            print()
            print(installer.menu)
            return 0
        confirm(installer.plan, args.yes, _("Type 'oui' (yes) to continue:"))
        entries = installer.run()
    finally:
        installer.close()
    print(_("Boot menu of {disk}: {entries}.").format(disk=disk.path,
                                                      entries=" | ".join(entries)))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    return _run_install(probe.resolve_disk(args.disk), args, repair=False)


def cmd_grub(args: argparse.Namespace) -> int:
    from oscar.ops.bootinstall import installed_on

    if args.disk:
        disk = probe.resolve_disk(args.disk)
    else:
        found = [d for d in probe.probe_all(with_usage=False)
                 if not d.is_boot_medium and installed_on(d) is not None]
        if len(found) != 1:
            raise UsageError(ngettext("{n} disk carries OSCAR's boot menu; which one?",
                                      "{n} disks carry OSCAR's boot menu; which one?",
                                      len(found)).format(n=len(found)),
                             _("Name it with --disk (see 'oscar probe')."))
        disk = probe.resolve_disk(found[0].path)
    return _run_install(disk, args, repair=True)


def add_password(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("password", help=_("set the password of the menu and the boot entries"))
    p.add_argument("--stdin", action="store_true", help=_("read the password from standard input"))
    p.add_argument("--remove", action="store_true", help=_("remove the password"))
    p.set_defaults(func=cmd_password)


def cmd_password(args: argparse.Namespace) -> int:
    from oscar.core import config as configuration

    current = configuration.load()
    if args.remove:
        current.password_hash = None
        where = configuration.save(current)
        print(_("Password removed from {path}.").format(path=where))
        return 0
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError(_("No terminal to type the password on."),
                             _("Use --stdin to read it from standard input."))
        password = getpass.getpass(_("New password: "))
        if getpass.getpass(_("Again: ")) != password:
            raise UsageError(_("The two passwords differ."), _("Type the same password twice."))
    if len(password) < 4:
        raise UsageError(_("The password is too short."), _("Use at least 4 characters."))
    configuration.set_password(current, password)
    where = configuration.save(current)
    print(_("Password set in {path} (only its PBKDF2 hash is stored).").format(path=where))
    print(_("Type it as usual on a French (AZERTY) keyboard, also at the boot menu's prompt: "
            "the hash is of what GRUB receives from those keys (GRUB reads every keyboard as "
            "a US one). On a serial line, GRUB receives the characters themselves."))
    return 0
