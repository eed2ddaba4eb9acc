"""`oscar probe` and `oscar prepare`: the disks as OSCAR sees them, and a disk laid out for
OSCAR."""

from __future__ import annotations

import argparse
import json

from oscar.backups.store import Store
from oscar.core.i18n import _
from oscar.core.progress import TerminalProgress
from oscar.disks import bitlocker, probe
from oscar.disks.devices import Disk, human_size
from oscar.ui.cli import options
from oscar.ui.cli.ask import confirm


def add_probe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help=_("list the disks and their partitions"))
    p.add_argument("--json", action="store_true")
    options.store(p, required=False, help=_("backup folder, to mark the disk that holds it"))
    p.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    stores = [args.store] if args.store else []
    if args.store:
        Store(args.store).check_exists()
    disks = probe.probe_all(store_paths=stores)
    if args.json:
        print(json.dumps([d.to_dict() for d in disks], indent=2, ensure_ascii=False))
        return 0
    for disk in disks:
        print(render_disk(disk))
    return 0


def render_disk(disk: Disk) -> str:
    marks = []
    if disk.holds_store:
        marks.append(_("holds the backups"))
    if disk.is_boot_medium:
        marks.append(_("boot medium"))
    oscar_parts = [p.number for p in disk.partitions if p.label == "OSCAR"]
    if oscar_parts:
        marks.append(_("OSCAR partition {n}").format(n=oscar_parts[0]))
    head = (f"{disk.path}  {human_size(disk.size)}  {disk.table_label}  {disk.identity}"
            f"  {disk.model or ''}".rstrip())
    if marks:
        head += "  [" + ", ".join(marks) + "]"
    lines = [head]
    used = _("used")
    for p in disk.partitions:
        flags = " " + _("(mounted)") if p.in_use else ""
        lines.append(f"  {p.number:>2} {p.path:<16} {p.fstype or '-':<7} {p.label or '-':<12} "
                     f"{human_size(p.size):>9}  {used} {human_size(p.used):>9}{flags}")
        if p.encrypted:
            lines.append("     " + _("encrypted: {what}").format(what=bitlocker.summary(p.bitlocker)))
    return "\n".join(lines)


def add_prepare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prepare", help=_("lay out a disk for OSCAR: Windows, Linux or dual boot"))
    options.disk(p)
    p.add_argument("--layout", required=True, choices=("windows", "linux", "dualboot"))
    table = p.add_mutually_exclusive_group()
    table.add_argument("--gpt", action="store_true", help=_("GPT table (UEFI PCs)"))
    table.add_argument("--mbr", action="store_true", help=_("MBR table (BIOS PCs)"))
    options.dry_run(p)
    options.yes(p)
    p.set_defaults(func=cmd_prepare)


def cmd_prepare(args: argparse.Namespace) -> int:
    from oscar.ops.prepare import PrepareOptions, Preparer, default_label

    disk = probe.resolve_disk(args.disk)
    label = "gpt" if args.gpt else "dos" if args.mbr else default_label(disk)
    preparer = Preparer(disk, PrepareOptions(args.layout, label), TerminalProgress())
    if args.dry_run:
        print(preparer.plan.render())
        return 0
    confirm(preparer.plan, args.yes,
            _("Everything on this disk will be erased. Type 'oui' (yes) to continue:"))
    preparer.run()
    print(_("{disk} is ready: install the systems, then save them with OSCAR.").format(
        disk=disk.path))
    return 0
