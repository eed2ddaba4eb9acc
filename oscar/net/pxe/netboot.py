"""The files a PC fetches when it boots from the network: GRUB's network image and modules for
BIOS, Debian's signed chain for UEFI (shim, then the signed network GRUB: Secure Boot accepts
them), the menu, over TFTP; the live system's kernel and initrd over TFTP, its squashfs and the
backups over HTTP. Links into the live system's folder and the store, so nothing large is
copied.

The signed network GRUB has its prefix built in: it reads /grub/grub.cfg from the server named
in the PC's DHCP acknowledgement (never from a proxy DHCP answer). The same menu is written
there and in /boot/grub for BIOS."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from oscar.core import run
from oscar.engine import grubinstall, signedboot
from oscar.net.pxe import render
from oscar.net.pxe.settings import PxeSettings

log = logging.getLogger("oscar.pxe")

# GRUB's BIOS network image finds its menu and modules at this prefix. It names the OSCAR
# server: GRUB 2.06 would otherwise ask the DHCP server that leased the address (the school's,
# in proxy mode) for its files.
PREFIX = "(tftp,{server})/boot/grub"
BIOS_MODULES = ["pxe", "tftp"]
SIGNED_MENU = "grub/grub.cfg"  # where Debian's signed network GRUB looks
LIVE_FILES = ("vmlinuz", "initrd.img")


def mkimage_argv(server: str, output: Path) -> list[str]:
    directory = grubinstall.grub_lib() / grubinstall.PLATFORMS["bios"][0]
    return ["grub-mkimage", "--format", "i386-pc-pxe", "--directory", str(directory),
            "--prefix", PREFIX.format(server=server), "--output", str(output), *BIOS_MODULES]


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target, link)


def readable_by_anyone(path: Path) -> bool:
    if not path.stat().st_mode & 0o004:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.resolve().parents)


def build_tftp(root: Path, settings: PxeSettings) -> None:
    grub_dir = root / "boot/grub"
    grub_dir.mkdir(parents=True, exist_ok=True)
    modules = grubinstall.module_dir("bios")
    _link(modules, grub_dir / modules.name)
    run.run(mkimage_argv(settings.server, root / render.BIOS_FILE))
    for name, data in signedboot.load("net").files().items():
        (root / name).write_bytes(data)
        (root / name).chmod(0o644)
    menu = render.grub_menu(settings)
    render.check_grub(menu)
    for path in (grub_dir / "grub.cfg", root / SIGNED_MENU):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(menu, encoding="utf-8")
        path.chmod(0o644)
    (root / "live").mkdir(exist_ok=True)
    for name in LIVE_FILES:
        source = Path(settings.live_dir) / name
        if readable_by_anyone(source):
            _link(source, root / "live" / name)
        else:
            # dnsmasq, as nobody, could not follow a link into a private folder (a source
            # tree under /root): a copy in the network boot's own folder
            log.info("copying %s: its folder is private", source)
            shutil.copyfile(source, root / "live" / name)
            (root / "live" / name).chmod(0o644)
    # dnsmasq drops its privileges: everything must be readable by anyone
    for folder in (root, grub_dir, root / "live", (root / SIGNED_MENU).parent):
        folder.chmod(0o755)


def build_http(root: Path, settings: PxeSettings) -> None:
    root.mkdir(parents=True, exist_ok=True)
    _link(Path(settings.live_dir), root / "live")
    if settings.store is not None:
        _link(Path(settings.store), root / "backups")
