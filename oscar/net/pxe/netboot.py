"""The files a PC fetches when it boots from the network: GRUB's network images (BIOS and
UEFI), its modules and menu over TFTP; the live system's kernel and initrd over TFTP, its
squashfs and the backups over HTTP. Links into the live system's folder and the store, so
nothing large is copied."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from oscar.core import run
from oscar.engine import grubinstall
from oscar.net.pxe import render
from oscar.net.pxe.settings import PxeSettings

log = logging.getLogger("oscar.pxe")

# GRUB's network image finds its menu and modules at this prefix. It names the OSCAR server:
# GRUB 2.06 would otherwise ask the DHCP server that leased the address (the school's, in
# proxy mode) for its files.
PREFIX = "(tftp,{server})/boot/grub"
NET_MODULES = {"bios": ["pxe", "tftp"], "efi": ["efinet", "tftp"]}
NET_FORMATS = {"bios": "i386-pc-pxe", "efi": "x86_64-efi"}
IMAGE_FILES = {"bios": render.BIOS_FILE, "efi": render.EFI_FILE}
LIVE_FILES = ("vmlinuz", "initrd.img")


def mkimage_argv(platform: str, server: str, output: Path) -> list[str]:
    directory = grubinstall.grub_lib() / grubinstall.PLATFORMS[platform][0]
    return ["grub-mkimage", "--format", NET_FORMATS[platform], "--directory", str(directory),
            "--prefix", PREFIX.format(server=server), "--output", str(output),
            *NET_MODULES[platform]]


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
    for platform in ("bios", "efi"):
        modules = grubinstall.module_dir(platform)
        _link(modules, grub_dir / modules.name)
        run.run(mkimage_argv(platform, settings.server, root / IMAGE_FILES[platform]))
    menu = render.grub_menu(settings)
    render.check_grub(menu)
    (grub_dir / "grub.cfg").write_text(menu, encoding="utf-8")
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
    for folder in (root, grub_dir, root / "live"):
        folder.chmod(0o755)


def build_http(root: Path, settings: PxeSettings) -> None:
    root.mkdir(parents=True, exist_ok=True)
    _link(Path(settings.live_dir), root / "live")
    if settings.store is not None:
        _link(Path(settings.store), root / "backups")
