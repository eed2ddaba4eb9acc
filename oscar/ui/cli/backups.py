"""`oscar save`, `restore`, `list`, `verify` and `copy`: the backups of a folder."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oscar.backups import store as store_mod
from oscar.backups.store import Store, check_name
from oscar.core.errors import Aborted, UsageError
from oscar.core.i18n import _
from oscar.core.progress import TerminalProgress
from oscar.disks import probe
from oscar.disks.devices import human_size
from oscar.ui.cli import ask, options
from oscar.ui.cli.ask import confirm
from oscar.ui.cli.options import bounded_int, parse_parts

if TYPE_CHECKING:
    from oscar.engine.dislocker import Key


def add_save(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("save", help=_("save a disk (sauvegarde)"))
    options.disk(p)
    options.store(p)
    options.name(p)
    options.parts(p)
    p.add_argument("--method", default="auto",
                   choices=("auto", "fsarchiver", "ntfsclone", "partclone", "raw"))
    p.add_argument("--compress", default="zstd", choices=("zstd", "gzip", "none"))
    p.add_argument("--level", type=bounded_int(1, 19),
                   help=_("compression level (zstd 1-19, gzip 1-9)"))
    key = p.add_mutually_exclusive_group()
    key.add_argument("--bitlocker-key-file", type=Path, metavar="FILE",
                     help=_("the key of the BitLocker partitions: Windows' recovery key file "
                            "(or a list of them), a .BEK file, or a file holding the password"))
    key.add_argument("--bitlocker-key-stdin", action="store_true",
                     help=_("read the BitLocker recovery key (48 digits) or password from the "
                            "terminal or standard input"))
    options.dry_run(p)
    options.yes(p)
    p.set_defaults(func=cmd_save)


def bitlocker_keys(args: argparse.Namespace) -> list[Key]:
    """The keys given for BitLocker partitions; typed on a terminal without echo."""
    from oscar.engine import dislocker

    if args.bitlocker_key_file is not None:
        return dislocker.keys_from_file(args.bitlocker_key_file)
    if not args.bitlocker_key_stdin:
        return []
    if sys.stdin.isatty():
        text = getpass.getpass(_("BitLocker recovery key or password: "))
    else:
        text = sys.stdin.readline(1024)
    return [dislocker.typed_key(text)]


def cmd_save(args: argparse.Namespace) -> int:
    from oscar.engine import compress
    from oscar.ops.save import SaveOptions, Saver

    store = Store(args.store)
    store.check_writable()
    check_name(args.name)
    compress.check(args.compress)
    compress.check_level(args.compress, args.level)
    disk = probe.resolve_disk(args.disk, store_paths=[args.store])
    opts = SaveOptions(args.name, parse_parts(args.parts), args.method, args.compress, args.level,
                       bitlocker_keys(args))
    saver = Saver(disk, store, opts, TerminalProgress())
    if args.dry_run:
        print(saver.plan.render())
        return 0
    if (store.root / args.name).exists():
        saver.plan.warnings.append(_("the backup '{name}' exists and will be replaced once the "
                                     "new one is complete").format(name=args.name))
        confirm(saver.plan, args.yes, _("Replace it? Type 'oui' (yes) to continue:"))
    else:
        print(saver.plan.render())
    folder = saver.run()
    print(_("Backup complete and verified: {folder}").format(folder=folder))
    return 0


def add_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help=_("list the backups of a folder"))
    p.add_argument("store")
    p.add_argument("--all", action="store_true", help=_("also show incomplete backups"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)


def state_label(state: str) -> str:
    labels = {"complete": _("complete"), "incomplete": _("incomplete (not usable)"),
              "clonezilla": _("Clonezilla image"), "damaged": _("damaged")}
    return labels.get(state, state)


def cmd_list(args: argparse.Namespace) -> int:
    store = Store(args.store)
    entries = store.entries(include_incomplete=args.all)
    if args.json:
        print(json.dumps([{"name": e.name, "state": e.state, "usable": e.usable,
                           "created": e.manifest.created if e.manifest else None,
                           "source": e.manifest.source.get("identity") if e.manifest else None,
                           "partitions": [p.number for p in e.manifest.imaged] if e.manifest else [],
                           "size": e.manifest.stored_bytes if e.manifest else None}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print(_("No backup in {root}.").format(root=store.root))
        return 0
    entries.sort(key=lambda e: e.manifest.created if e.manifest else "", reverse=True)
    for e in entries:
        if e.manifest:
            m = e.manifest
            parts = ",".join(f"{p.number}:{p.fstype}/{p.method}" for p in m.imaged
                             if p.role == "data")
            print(f"{e.name:<24} {m.created[:16]:<16} {m.source.get('identity', '?')}  "
                  f"[{parts}]  {human_size(m.stored_bytes)}  {state_label(e.state)}")
        else:
            print(f"{e.name:<24} {'':<16} {state_label(e.state)} {e.problem}")
    return 0


def add_delete(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("delete", help=_("delete a backup (to make room)"))
    options.store(p)
    options.name(p)
    options.yes(p)
    p.set_defaults(func=cmd_delete)


def cmd_delete(args: argparse.Namespace) -> int:
    store = Store(args.store)
    entry = store.get(args.name)
    print(store_mod.deletion_text(entry))
    if not args.yes:
        if not sys.stdin.isatty():
            raise Aborted(_("Confirmation needed, and there is no terminal to ask."),
                          _("Add --yes to confirm on the command line."))
        if not ask.ask_yes_no(_("Delete it?")):
            raise Aborted(_("Cancelled; nothing was deleted."))
    store.delete(entry.name)
    print(_("Backup '{name}' deleted from {root}.").format(name=entry.name, root=store.root))
    return 0


def add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help=_("check a backup's checksums and images"))
    p.add_argument("backup", help=_("the backup's folder, STORE/NAME"))
    p.add_argument("--quick", action="store_true", help=_("checksums and headers only"))
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from oscar.ops.verify import verify

    folder = Path(args.backup)
    if not folder.is_dir():
        raise UsageError(_("No backup at {path}.").format(path=folder),
                         _("Give the backup's folder: STORE/NAME ('oscar list STORE')."))
    report = verify(folder, TerminalProgress(), deep=not args.quick)
    name = report.manifest.name
    if report.clonezilla:
        print(_("Clonezilla image {name}: checked with {files}.").format(
            name=name, files=", ".join(report.sum_files) if report.sum_files else _(
                "the images' own checksums (the folder has no checksum file)")))
    if not report.not_decoded:
        print(_("Backup {name} verified: every checksum matches and every image decodes.").format(
            name=name))
    else:
        print(_("Backup {name} verified: every checksum matches.").format(name=name))
        for file, why in sorted(report.not_decoded.items()):
            print(_("  {file}: not decoded ({why})").format(file=file, why=why))
    return 0


def add_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("restore", help=_("restore a backup (restauration)"))
    options.disk(p)
    options.store(p)
    options.name(p)
    options.parts(p)
    p.add_argument("--with-table", action="store_true",
                   help=_("write the saved partition table first"))
    options.layout(p)
    p.add_argument("--resize-oscar", action="store_true",
                   help=_("with --with-table on another disk: let the OSCAR partition change "
                          "size too"))
    options.dry_run(p)
    options.yes(p)
    p.set_defaults(func=cmd_restore)


def cmd_restore(args: argparse.Namespace) -> int:
    from oscar.ops.restore.planner import RestoreOptions
    from oscar.ops.restore.restorer import Restorer

    store = Store(args.store)
    store.check_exists()
    store.get(args.name)
    disk = probe.resolve_disk(args.disk, store_paths=[args.store])
    opts = RestoreOptions(args.name, parse_parts(args.parts), args.with_table,
                          layout=args.layout, resize_store=args.resize_oscar)
    restorer = Restorer(disk, store, opts, TerminalProgress())
    if args.dry_run:
        print(restorer.plan.render())
        return 0
    confirm(restorer.plan, args.yes,
            _("Everything on these partitions will be replaced. Type 'oui' (yes) to continue:"))
    log_path = restorer.run()
    print(_("Restore of '{name}' onto {disk} complete.").format(name=args.name, disk=disk.path))
    print(_("Log: {path}").format(path=log_path))
    return 0


def add_copy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("copy", help=_("copy a backup to another backup folder, verified"))
    p.add_argument("--from", dest="source", required=True, help=_("backup folder it is in"))
    options.name(p)
    p.add_argument("--to", required=True, help=_("backup folder it goes to"))
    p.add_argument("--as", dest="as_name", help=_("another name there"))
    p.set_defaults(func=cmd_copy)


def cmd_copy(args: argparse.Namespace) -> int:
    from oscar.backups.copy import copy_backup

    folder = copy_backup(Store(args.source), args.name, Store(args.to), TerminalProgress(),
                         new_name=args.as_name)
    print(_("Backup '{name}' copied to {folder} and verified.").format(name=args.name,
                                                                      folder=folder))
    return 0
