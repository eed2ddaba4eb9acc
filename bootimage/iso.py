"""The hybrid ISO of the live system: one file that starts as a CD and, written to a USB key with
dd, as a disk; on BIOS PCs through GRUB's El Torito image and hybrid MBR, on UEFI PCs through
Debian's signed chain, so that a PC with Secure Boot on starts it as it comes.

grub-mkrescue cannot do the UEFI half: it builds its own unsigned EFI image. The layout below is
grub-mkrescue's (the same xorriso options), with the EFI image replaced by a FAT image holding
shim as the firmware's loader, Debian's signed CD GRUB beside it (shim starts "grubx64.efi" from
its own folder) and MokManager. The signed GRUB finds the ISO by its file /.disk/info and reads
/boot/grub/grub.cfg there (its built-in configuration); it loads no module of its own.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from oscar.core import run

# What GRUB's BIOS core needs on a CD, or on the same file seen as a disk: the rest is loaded
# from /boot/grub/i386-pc.
BIOS_CORE_MODULES = ["biosdisk", "iso9660", "part_msdos", "part_gpt"]
EFI_IMAGE_MB = 8  # shim + GRUB + MokManager: about 6 MB
DISK_INFO = ".disk/info"


@dataclass(frozen=True)
class Loaders:
    """Where the boot files come from (the live system's own packages)."""

    grub_pc: Path  # .../usr/lib/grub/i386-pc (modules, boot_hybrid.img)
    shim: Path  # shimx64.efi.signed
    mokmanager: Path  # mmx64.efi.signed
    grub_cd: Path  # gcdx64.efi.signed: Debian's signed GRUB for CDs and keys

    @classmethod
    def under(cls, root: Path) -> Loaders:
        return cls(grub_pc=root / "usr/lib/grub/i386-pc",
                   shim=root / "usr/lib/shim/shimx64.efi.signed",
                   mokmanager=root / "usr/lib/shim/mmx64.efi.signed",
                   grub_cd=root / "usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed")

    def missing(self) -> list[Path]:
        wanted = [self.grub_pc / "boot_hybrid.img", self.shim, self.mokmanager, self.grub_cd]
        return [path for path in wanted if not path.is_file()]


def efi_image(loaders: Loaders, target: Path) -> None:
    """The FAT image the firmware starts: EFI/BOOT/BOOTX64.EFI is shim (signed by Microsoft's
    UEFI CA), which starts grubx64.efi (signed by Debian) from the same folder."""
    with target.open("wb") as fh:
        fh.truncate(EFI_IMAGE_MB << 20)
    run.run(["mkfs.vfat", "-n", "OSCAR-EFI", str(target)])
    image = str(target)
    run.run(["mmd", "-i", image, "::/EFI", "::/EFI/BOOT"])
    for source, name in ((loaders.shim, "BOOTX64.EFI"), (loaders.grub_cd, "grubx64.efi"),
                         (loaders.mokmanager, "mmx64.efi")):
        run.run(["mcopy", "-i", image, str(source), f"::/EFI/BOOT/{name}"])


def bios_files(loaders: Loaders, boot_grub: Path) -> None:
    """GRUB's modules and its El Torito core image under /boot/grub/i386-pc."""
    target = boot_grub / "i386-pc"
    target.mkdir(parents=True, exist_ok=True)
    for item in loaders.grub_pc.iterdir():
        if item.suffix in (".mod", ".lst") and item.is_file():
            shutil.copy2(item, target / item.name)
    run.run(["grub-mkimage", "--format", "i386-pc-eltorito", "--directory",
             str(loaders.grub_pc), "--prefix", "/boot/grub", "--output",
             str(target / "eltorito.img"), *BIOS_CORE_MODULES])


def xorriso_argv(staging: Path, extra: Path, iso: Path, loaders: Loaders,
                 volid: str) -> list[str]:
    """grub-mkrescue's own xorriso options (BIOS El Torito + hybrid MBR + the EFI image as an
    El Torito entry and a partition), on the staging tree and the boot files in ``extra``."""
    return ["xorriso", "-as", "mkisofs", "-graft-points", "-volid", volid,
            "-b", "boot/grub/i386-pc/eltorito.img", "-no-emul-boot", "-boot-load-size", "4",
            "-boot-info-table", "--grub2-boot-info",
            "--grub2-mbr", str(loaders.grub_pc / "boot_hybrid.img"),
            "--efi-boot", "efi.img", "-efi-boot-part", "--efi-boot-image",
            "--protective-msdos-label", "-o", str(iso), "-r", str(extra), str(staging)]


def build(staging: Path, iso: Path, loaders: Loaders, *, volid: str = "OSCAR") -> None:
    """``staging`` holds /boot/grub/grub.cfg and the live system; the ISO is written to
    ``iso``. The boot files are added beside the tree, never into it."""
    missing = loaders.missing()
    if missing:
        raise FileNotFoundError("boot files missing: " + ", ".join(map(str, missing)))
    info = staging / DISK_INFO
    info.parent.mkdir(parents=True, exist_ok=True)
    if not info.exists():
        info.write_text(f"{volid} live system\n")
    with tempfile.TemporaryDirectory(prefix="oscar-iso-") as tmp:
        extra = Path(tmp)
        bios_files(loaders, extra / "boot/grub")
        efi_image(loaders, extra / "efi.img")
        iso.unlink(missing_ok=True)
        run.run(xorriso_argv(staging, extra, iso, loaders, volid))
