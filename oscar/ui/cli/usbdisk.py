"""`oscar usbdisk init|mount|umount`: the external USB disk (disque_usb)."""

from __future__ import annotations

import argparse
from pathlib import Path

from oscar.core.i18n import _
from oscar.core.progress import TerminalProgress
from oscar.disks import probe
from oscar.ui.cli import options
from oscar.ui.cli.ask import confirm


def add_usbdisk(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("usbdisk", help=_("an external USB disk for OSCAR (disque_usb)"))
    usbsub = p.add_subparsers(dest="usb_verb", required=True)
    d = usbsub.add_parser("init", help=_("lay out a disk: OSCAR boot, OSCAR-SAVE (ext4, half), "
                                         "OSCAR-ECOLE (NTFS, the rest)"))
    options.disk(d)
    d.add_argument("--allow-small", action="store_true",
                   help=_("accept a disk under 500 GB"))
    table = d.add_mutually_exclusive_group()
    table.add_argument("--gpt", action="store_true", help=_("GPT table (default over 2 TiB)"))
    table.add_argument("--mbr", action="store_true", help=_("MBR table (default up to 2 TiB)"))
    options.image(d)
    options.no_password(d)
    options.dry_run(d)
    options.yes(d)
    d.set_defaults(func=cmd_usbdisk)
    for verb, text in (("mount", _("mount the backup partitions; print their folders")),
                       ("umount", _("unmount the backup partitions"))):
        d = usbsub.add_parser(verb, help=text)
        options.disk(d, required=False, help=_("the USB disk (default: every OSCAR USB disk)"))
        d.set_defaults(func=cmd_usbdisk)


def cmd_usbdisk(args: argparse.Namespace) -> int:
    from oscar.backups import usbstore
    from oscar.core import config as configuration

    if args.usb_verb == "init":
        from oscar.ops.usbdisk import UsbDiskInit, UsbDiskOptions, describe

        disk = probe.resolve_disk(args.disk)
        opts = UsbDiskOptions(allow_small=args.allow_small,
                              label="gpt" if args.gpt else "dos" if args.mbr else None,
                              image_dir=Path(args.image) if args.image else None,
                              password_hash=configuration.load().password_hash,
                              no_password=args.no_password)
        init = UsbDiskInit(disk, opts, TerminalProgress())
        if args.dry_run:
            print(init.plan.render())
            return 0
        confirm(init.plan, args.yes, _(
            "Everything on {description} will be erased. Type the disk's name ({name}) to "
            "continue:").format(description=describe(disk), name=disk.name), typed=disk.name)
        init.run()
        print(_("{disk} is an OSCAR USB disk: it starts OSCAR on BIOS and UEFI PCs; save onto "
                "OSCAR-SAVE, keep the school's backups on OSCAR-ECOLE.").format(disk=disk.path))
        return 0
    disks = probe.probe_all(with_usage=False)
    stores = usbstore.require(disks, probe.resolve_disk(args.disk).path if args.disk else None)
    for store in stores:
        if args.usb_verb == "mount":
            print(f"{store.label} ({store.part.path}): {usbstore.mount(store)}")
        elif usbstore.unmount(store):
            print(_("{label} ({dev}) unmounted.").format(label=store.label, dev=store.part.path))
    return 0
