"""Debian's signed GRUB loads no module under Secure Boot: what OSCAR's menus load must be
built into the three signed images (disk, CD, network), read out of the images themselves."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from oscar.data import GRUB_TEMPLATES
from oscar.engine import grubcfg, signedboot

pytestmark = pytest.mark.unit
SIGNED = Path("/usr/lib/grub/x86_64-efi-signed")
IMAGES = ("grubx64.efi.signed", "gcdx64.efi.signed", "grubnetx64.efi.signed")
BIOS_ONLY = {"ntfs"}  # the BIOS branch of the disk menu (chainloader +1 of Windows' NTFS)


def built_in_modules(image: bytes) -> set[str]:
    """The .modname of every ELF module GRUB's mkimage packed into the image."""
    names = set()
    for found in re.finditer(rb"\x7fELF\x02\x01\x01", image):
        start = found.start()
        try:
            (shoff,) = struct.unpack_from("<Q", image, start + 0x28)
            entsize, count, strndx = struct.unpack_from("<HHH", image, start + 0x3A)
            strtab = struct.unpack_from("<IIQQQQIIQQ", image, start + shoff + strndx * entsize)[4]
            for index in range(count):
                section = struct.unpack_from("<IIQQQQIIQQ", image,
                                             start + shoff + index * entsize)
                name = image[start + strtab + section[0]:].split(b"\0", 1)[0]
                if name == b".modname":
                    offset, size = section[4], section[5]
                    names.add(image[start + offset:start + offset + size].rstrip(b"\0").decode())
        except (struct.error, UnicodeDecodeError):
            continue
    return names


@pytest.mark.parametrize("name", IMAGES)
def test_what_oscar_counts_on_is_built_into_debians_signed_grub(name: str) -> None:
    path = SIGNED / name
    assert path.is_file(), f"{path}: apt-get install grub-efi-amd64-signed"
    modules = built_in_modules(path.read_bytes())
    assert len(modules) > 80, modules  # the parser found the image's modules
    wanted = set(signedboot.BUILT_IN) - ({"tftp", "efinet"} if "net" not in name else set())
    assert wanted <= modules, sorted(wanted - modules)


def test_every_insmod_of_the_menus_is_built_in() -> None:
    loaded = set()
    for template in Path(str(GRUB_TEMPLATES)).glob("*.j2"):
        loaded |= set(re.findall(r"^\s*insmod ([a-z0-9_]+)", template.read_text(), re.M))
    loaded |= set(grubcfg.GRUB_FS.values())  # insmod {{ system.grub_fs }}
    assert loaded - BIOS_ONLY <= signedboot.BUILT_IN, sorted(loaded - signedboot.BUILT_IN)
