"""GRUB on a PC's own disk: its modules and menu on the OSCAR partition, its boot code in the
MBR (BIOS) or on the EFI system partition (UEFI).

BIOS: a core image made with grub-mkimage (grub-install guesses devices through udev, and
writes nothing we could not name in a plan). UEFI: Debian's signed chain (engine/signedboot:
shim, then the signed GRUB), so a PC with Secure Boot on starts it; the signed GRUB reads the
grub.cfg beside it. Both carry the same two lines that find the OSCAR partition by its
filesystem UUID and read /boot/grub there, so renumbered partitions or a second disk do not
lose the menu.
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
from oscar.engine import signedboot

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
EFI_LOADER = f"{EFI_DIR}/{signedboot.SHIM}"  # the firmware entry starts shim
FALLBACK_DIR = "/EFI/BOOT"
EFI_FALLBACK = FALLBACK_DIR + "/BOOTX64.EFI"
# What the fallback folder held before OSCAR (Windows keeps a copy of its boot manager there,
# another system its shim and GRUB): kept once, never overwritten.
# Keyed by the name of OSCAR's file that replaces it there.
FALLBACK_SAVED = {signedboot.SHIM: EFI_DIR + "/bootx64-before-oscar.efi",
                  signedboot.GRUB: EFI_DIR + "/grubx64-before-oscar.efi"}
EFI_FALLBACK_SAVED = FALLBACK_SAVED[signedboot.SHIM]
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


def efi_config(oscar_uuid: str) -> str:
    """grub.cfg beside the signed GRUB on the EFI partition: to the OSCAR partition's menu."""
    return early_config(oscar_uuid) + "configfile $prefix/grub.cfg\n"


def efi_files(oscar_uuid: str) -> dict[str, bytes]:
    """The files of OSCAR's folder on the EFI partition, in the order they are written."""
    return signedboot.load("disk").files(efi_config(oscar_uuid))


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


def esp_free(esp: str) -> int | None:
    """Free bytes on the EFI partition, as mtools counts them (None if it cannot say)."""
    result = run.run(["mdir", "-i", esp, "::/"], check=False)
    for line in result.stdout.decode(errors="replace").splitlines():
        if "bytes free" in line:
            digits = line.split("bytes free")[0].replace(" ", "").replace("\u202f", "")
            return int(digits) if digits.isdigit() else None
    return None


def esp_room_needed(esp: str, files: dict[str, bytes]) -> int:
    """Bytes the install adds: both folders' files, less what they replace."""
    needed = 0
    for folder in (EFI_DIR, FALLBACK_DIR):
        for name, data in files.items():
            target = f"{folder}/{fallback_name(name) if folder == FALLBACK_DIR else name}"
            old = esp_read(esp, target)
            needed += max(0, len(data) - (len(old) if old is not None else 0))
    return needed + (1 << 20)  # the copies kept of the previous fallback, and FAT's slack


def fallback_name(name: str) -> str:
    return "BOOTX64.EFI" if name == signedboot.SHIM else name


def esp_install(esp: str, files: dict[str, bytes], *, fallback: bool = True) -> list[str]:
    """OSCAR's signed chain in EFI/oscar, and in the fallback folder EFI/BOOT that firmware
    starts when it has no boot entry (a new PC, a reset NVRAM): shim as BOOTX64.EFI, GRUB and
    its grub.cfg beside it. What the fallback held before (Windows' boot manager, another
    system's shim and GRUB) is kept once in EFI/oscar. shim is written last in each folder."""
    free = esp_free(esp)
    needed = esp_room_needed(esp, files)
    if free is not None and free < needed:
        raise OSError(f"{esp}: {free // 1024} KiB free, {needed // 1024} KiB needed")
    written = []
    for name, data in files.items():
        esp_write(esp, f"{EFI_DIR}/{name}", data)
        written.append(f"{EFI_DIR}/{name}")
    if not fallback:  # a BitLocker PC: Windows' own fallback stays what firmware starts
        return written
    for name, saved in FALLBACK_SAVED.items():
        current = esp_read(esp, f"{FALLBACK_DIR}/{fallback_name(name)}")
        if current is not None and current != files.get(name) and not esp_exists(esp, saved):
            esp_write(esp, saved, current)
            written.append(saved)
    for name, data in files.items():
        target = f"{FALLBACK_DIR}/{fallback_name(name)}"
        esp_write(esp, target, data)
        written.append(target)
    return written


def firmware_entry(disk_path: str, esp_number: int, *, first: bool = True) -> str:
    """A UEFI boot entry "OSCAR" (starting shim) first in the boot order, when this system
    runs on the PC's UEFI firmware (the live system on the PC itself); otherwise the fallback
    loader is what the firmware starts. An OSCAR entry that starts something else (GRUB
    itself, as OSCAR wrote before Secure Boot) is replaced."""
    if not settings.EFI_FIRMWARE.path().joinpath("efivars").is_dir():
        return "not started in UEFI mode: no firmware entry; the fallback loader starts OSCAR"
    if tools.which("efibootmgr") is None:
        return "efibootmgr missing: no firmware entry; the fallback loader starts OSCAR"
    loader = EFI_LOADER.replace("/", "\\")
    said = ""
    for number, line in oscar_entries(run.output(["efibootmgr", "-v"])):
        if loader.lower() in line.lower():
            said = "firmware entry OSCAR already present"
            break
        run.run(["efibootmgr", "--quiet", "--bootnum", number, "--delete-bootnum"])
    if not said:
        run.run(["efibootmgr", "--create", "--disk", disk_path, "--part", str(esp_number),
                 "--label", FIRMWARE_LABEL, "--loader", loader])
        said = "firmware entry OSCAR created"
    if first:
        return said + ", first in the boot order" if "created" in said else said
    listing = run.output(["efibootmgr"])
    order = order_oscar_last(listing)
    if order is not None:
        run.run(["efibootmgr", "--quiet", "--bootorder", ",".join(order)])
    return said + ", after the other entries (BitLocker: Windows Boot Manager stays first)"


def order_oscar_last(listing: str) -> list[str] | None:
    """The boot order of `efibootmgr`'s listing with OSCAR's entries moved last; None when
    they are last already (or the listing has no order)."""
    found = re.search(r"^BootOrder:\s*([0-9A-Fa-f,]+)\s*$", listing, re.MULTILINE)
    if not found:
        return None
    order = [n for n in found.group(1).split(",") if n]
    ours = {n.upper() for n, _line in oscar_entries(listing)}
    moved = [n for n in order if n.upper() not in ours] + [n for n in order if n.upper() in ours]
    return moved if moved != order else None


def oscar_entries(listing: str) -> list[tuple[str, str]]:
    """(number, line) of each firmware entry labelled OSCAR in `efibootmgr -v`'s listing."""
    pattern = re.compile(rf"^Boot([0-9A-Fa-f]{{4}})\*?\s+{FIRMWARE_LABEL}(?=\s|$)(.*)$", re.MULTILINE)
    return [(m.group(1), m.group(2)) for m in pattern.finditer(listing)]


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
