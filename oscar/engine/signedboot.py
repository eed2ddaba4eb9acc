"""Debian's signed UEFI boot chain, the one a PC with Secure Boot on accepts as it comes:
shim (signed by Microsoft's UEFI CA) is what the firmware starts; it checks and starts GRUB
(signed by Debian) from its own folder, which checks and starts Debian's signed kernel.

Debian builds three signed GRUB images, each with its modules built in (it can load no other
under Secure Boot) and a configuration of its own:
- grubx64 (disk): if its prefix /EFI/debian is absent, it looks for a file /.disk/info, then
  reads $prefix/grub.cfg or, failing that, grub.cfg beside itself ($cmdpath): OSCAR puts there
  the two lines that find the OSCAR partition by UUID and open its menu;
- gcdx64 (CD and USB key): finds the medium by /.disk/info, reads /boot/grub/grub.cfg;
- grubnetx64 (network): reads /grub/grub.cfg from the TFTP server named in the DHCP
  acknowledgement (not from a proxy DHCP answer: see oscar/net/pxe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oscar.core import settings
from oscar.core.errors import ToolMissing
from oscar.core.i18n import _

SHIM = "shimx64.efi"  # the firmware's loader
GRUB = "grubx64.efi"  # shim starts this name, from its own folder
MOKMANAGER = "mmx64.efi"  # shim starts it when a key must be enrolled
PACKAGES = "shim-signed grub-efi-amd64-signed"
# What Debian's signed GRUB has built in, among what OSCAR's menus use (insmod of anything else
# fails under Secure Boot): checked by the unit tests against the templates.
BUILT_IN = frozenset({
    "all_video", "boot", "chain", "configfile", "echo", "efinet", "ext2", "fat", "gzio",
    "iso9660", "linux", "normal", "part_gpt", "part_msdos", "password_pbkdf2", "search",
    "serial", "sleep", "test", "true", "btrfs", "xfs", "squash4", "tftp", "regexp", "halt",
    "reboot"})


@dataclass(frozen=True)
class SignedChain:
    shim: bytes
    mokmanager: bytes
    grub: bytes

    def files(self, config: str | None = None) -> dict[str, bytes]:
        """The files of one EFI folder, the loader (shim) last: written in this order, a folder
        is never left with a loader that cannot find its GRUB."""
        files = {GRUB: self.grub, MOKMANAGER: self.mokmanager}
        if config is not None:
            files["grub.cfg"] = config.encode()
        files[SHIM] = self.shim
        return files


def _image_paths(kind: str) -> tuple[Path, Path, Path]:
    grub_name = {"disk": "grubx64.efi.signed", "cd": "gcdx64.efi.signed",
                 "net": "grubnetx64.efi.signed"}[kind]
    shim_dir = settings.SHIM_DIR.path()
    return (shim_dir / "shimx64.efi.signed", shim_dir / "mmx64.efi.signed",
            settings.SIGNED_GRUB.path() / grub_name)


def load(kind: str) -> SignedChain:
    """The signed chain for a disk, a CD/key or the network; missing files are named with the
    packages that hold them."""
    paths = _image_paths(kind)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ToolMissing(
            _("Debian's signed boot files for UEFI Secure Boot are missing: {files}.").format(
                files=", ".join(missing)),
            _("Install them: apt-get install {packages}").format(packages=PACKAGES))
    shim, mokmanager, grub = (path.read_bytes() for path in paths)
    return SignedChain(shim=shim, mokmanager=mokmanager, grub=grub)
