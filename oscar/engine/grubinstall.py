"""GRUB on a PC's own disk: its modules and menu on the OSCAR partition, its boot code in the
MBR (BIOS) or on the EFI system partition (UEFI).

Both boot images carry a two-line configuration that finds the OSCAR partition by its
filesystem UUID and reads /boot/grub there, so renumbered partitions or a second disk do not
lose the menu. The images are made with grub-mkimage rather than grub-install: grub-install
guesses devices through udev, and writes nothing we could not name in a plan.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from oscar.core import run, settings, tools
from oscar.core.errors import ToolMissing
from oscar.core.i18n import _

log = logging.getLogger("oscar.grubinstall")



def grub_lib() -> Path:
    return settings.GRUB_LIB.path()

# platform → (GRUB's name for it, the Debian package holding its modules)
PLATFORMS = {"bios": ("i386-pc", "grub-pc-bin"), "efi": ("x86_64-efi", "grub-efi-amd64-bin")}
# The least the boot image needs to reach /boot/grub on an ext4 partition of an MBR or GPT
# disk; everything else is loaded from there. The BIOS image must fit between the MBR and the
# first partition (gap_fits): about 40 KB, so a disk whose first partition starts at sector 63
# (Windows XP era, 31 KB) cannot take it.
CORE_MODULES = {"bios": ["biosdisk", "part_msdos", "part_gpt", "ext2", "search"],
                "efi": ["part_msdos", "part_gpt", "ext2", "fat", "search"]}
GRUB_DIR = "boot/grub"  # on the OSCAR partition
EFI_DIR = "/EFI/oscar"
EFI_LOADER = EFI_DIR + "/grubx64.efi"
EFI_FALLBACK = "/EFI/BOOT/BOOTX64.EFI"
EFI_FALLBACK_SAVED = EFI_DIR + "/bootx64-before-oscar.efi"
FIRMWARE_LABEL = "OSCAR"
SECTOR = 512


def module_dir(platform: str) -> Path:
    name, package = PLATFORMS[platform]
    folder = grub_lib() / name
    if not (folder / "normal.mod").is_file():
        raise ToolMissing(_("GRUB's files for {platform} are missing ({folder}).").format(
            platform=platform.upper(), folder=folder),
            _("Install them: apt-get install {package}").format(package=package))
    return folder


def early_config(oscar_uuid: str) -> str:
    """What the boot image runs first: find the OSCAR partition, read its menu."""
    if not re.fullmatch(r"[0-9A-Fa-f-]+", oscar_uuid):
        raise ValueError(f"not a filesystem UUID: {oscar_uuid!r}")
    return (f"search --no-floppy --fs-uuid --set=root {oscar_uuid}\n"
            "set prefix=($root)/boot/grub\n")


def mkimage_argv(platform: str, config: Path, output: Path) -> list[str]:
    name = PLATFORMS[platform][0]
    return ["grub-mkimage", "--format", name, "--directory", str(grub_lib() / name),
            "--config", str(config), "--prefix", "/boot/grub", "--output", str(output),
            *CORE_MODULES[platform]]


def make_image(platform: str, oscar_uuid: str, output: Path) -> None:
    module_dir(platform)
    with tempfile.NamedTemporaryFile("w", prefix="oscar-grub-early-", suffix=".cfg") as fh:
        fh.write(early_config(oscar_uuid))
        fh.flush()
        run.run(mkimage_argv(platform, Path(fh.name), output))


def copy_modules(platform: str, grub_dir: Path) -> None:
    """GRUB's modules beside the menu, replaced as a whole: modules left from another GRUB
    version fail to load ("symbol not found") once the boot image is new."""
    source = module_dir(platform)
    target = grub_dir / PLATFORMS[platform][0]
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in source.iterdir():
        if item.suffix in (".mod", ".lst", ".img", ".o") and item.is_file():
            shutil.copy2(item, staging / item.name)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


# -- BIOS ---------------------------------------------------------------------------------------
def gap_sectors(first_partition_start: int) -> int:
    """Sectors between the MBR and the first partition: where the BIOS boot image goes."""
    return max(0, first_partition_start // SECTOR - 1)


def gap_fits(first_partition_start: int, core_size: int) -> bool:
    return gap_sectors(first_partition_start) * SECTOR >= core_size


def gap_digest(gap: bytes) -> str:
    return hashlib.blake2b(gap).hexdigest()


def foreign_gap_data(gap: bytes, ours: str | None) -> bool:
    """True when the sectors after the MBR hold something that is neither empty nor what
    OSCAR wrote there last time (``ours``: its digest): another boot manager, or data some
    OEM tool hides there. The plan says it is replaced."""
    if not gap.strip(b"\0"):
        return False
    return ours is None or gap_digest(gap) != ours


@contextlib.contextmanager
def _staging_device() -> Iterator[Path]:
    """A folder on a small ext2 image attached as a whole loop device: grub-bios-setup needs
    its boot files on a block device it can measure, which a partition of a loop device (and
    the RAM file systems of a live system) is not."""
    folder = Path(tempfile.mkdtemp(prefix="oscar-grub-setup-"))
    image = folder / "setup.img"
    point = folder / "mnt"
    point.mkdir()
    device = None
    mounted = False
    try:
        with image.open("wb") as fh:
            fh.truncate(4 << 20)
        run.run(["mkfs.ext2", "-q", "-F", str(image)])
        device = run.output(["losetup", "--find", "--show", str(image)]).strip()
        run.run(["mount", device, str(point)])
        mounted = True
        yield point
    finally:
        if mounted:
            run.run(["umount", str(point)], check=False)
        if device:
            run.run(["losetup", "-d", device], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def bios_setup(disk_path: str, core_img: Path) -> None:
    """GRUB's boot.img into the MBR's code area (the partition table is kept) and core.img
    into the sectors before the first partition."""
    boot_img = module_dir("bios") / "boot.img"
    with _staging_device() as staging:
        shutil.copy(boot_img, staging / "boot.img")
        shutil.copy(core_img, staging / "core.img")
        # Never the blocklist fallback (core.img inside a filesystem, lost at its next
        # defragmentation or restore): no --force.
        run.run(["grub-bios-setup", "--directory", str(staging), disk_path])


# -- UEFI ---------------------------------------------------------------------------------------
def esp_exists(esp: str, path: str) -> bool:
    return run.run(["mdir", "-b", "-i", esp, "::" + path], check=False).returncode == 0


def esp_read(esp: str, path: str) -> bytes | None:
    result = run.run(["mtype", "-i", esp, "::" + path], check=False)
    return result.stdout if result.returncode == 0 else None


def _esp_mkdirs(esp: str, folder: str) -> None:
    current = ""
    for part in folder.strip("/").split("/"):
        current += "/" + part
        if not esp_exists(esp, current):
            run.run(["mmd", "-i", esp, "::" + current])


def esp_write(esp: str, path: str, data: bytes) -> None:
    """Write one file on the FAT EFI partition through mtools (no vfat driver needed): to a
    new name first, read back, then in place of the old one."""
    folder, name = path.rsplit("/", 1)
    _esp_mkdirs(esp, folder)
    staged = f"{folder}/oscar.new"
    run.run(["mcopy", "-o", "-i", esp, "-", "::" + staged], input=data)
    if esp_read(esp, staged) != data:
        run.run(["mdel", "-i", esp, "::" + staged], check=False)
        raise OSError(f"{esp}:{staged} does not read back as written")
    if esp_exists(esp, path):
        run.run(["mdel", "-i", esp, "::" + path])
    run.run(["mren", "-i", esp, "::" + staged, "::" + path])


def esp_install(esp: str, image: bytes) -> list[str]:
    """OSCAR's GRUB as EFI/oscar/grubx64.efi, and as the fallback loader firmware starts when
    it has no boot entry (a new PC, a reset NVRAM). The fallback found there first (Windows
    puts a copy of its boot manager) is kept in EFI/oscar."""
    written = [EFI_LOADER]
    esp_write(esp, EFI_LOADER, image)
    current = esp_read(esp, EFI_FALLBACK)
    if current is not None and current != image and not esp_exists(esp, EFI_FALLBACK_SAVED):
        esp_write(esp, EFI_FALLBACK_SAVED, current)
        written.append(EFI_FALLBACK_SAVED)
    esp_write(esp, EFI_FALLBACK, image)
    written.append(EFI_FALLBACK)
    return written


def firmware_entry(disk_path: str, esp_number: int) -> str:
    """A UEFI boot entry "OSCAR" first in the boot order, when this system runs on the PC's
    UEFI firmware (the live system on the PC itself); otherwise the fallback loader is what
    the firmware starts."""
    if not Path("/sys/firmware/efi/efivars").is_dir():
        return "not started in UEFI mode: no firmware entry; the fallback loader starts OSCAR"
    if tools.which("efibootmgr") is None:
        return "efibootmgr missing: no firmware entry; the fallback loader starts OSCAR"
    listing = run.output(["efibootmgr"])
    if re.search(rf"^Boot[0-9A-Fa-f]{{4}}\*?\s+{FIRMWARE_LABEL}\b", listing, re.MULTILINE):
        return "firmware entry OSCAR already present"
    run.run(["efibootmgr", "--create", "--disk", disk_path, "--part", str(esp_number),
             "--label", FIRMWARE_LABEL, "--loader", EFI_LOADER.replace("/", "\\")])
    return "firmware entry OSCAR created, first in the boot order"


# -- the menu -------------------------------------------------------------------------------------
def write_menu(grub_dir: Path, text: str) -> None:
    """Replace grub.cfg atomically (the caller has checked ``text``): a power cut leaves the
    old menu or the new one, never half of one. The old one is kept as grub.cfg.previous."""
    grub_dir.mkdir(parents=True, exist_ok=True)
    target = grub_dir / "grub.cfg"
    staged = grub_dir / "grub.cfg.new"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if target.exists():
        shutil.copy2(target, grub_dir / "grub.cfg.previous")
    os.replace(staged, target)
    dir_fd = os.open(grub_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
