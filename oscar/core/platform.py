"""How this PC was started: BIOS, UEFI, or UEFI with Secure Boot enforced. Read from the
kernel's view of the firmware (the SecureBoot variable, as `mokutil --sb-state` reads it), so
the menu can say it and the technician knows which boot path a PC takes."""

from __future__ import annotations

from enum import Enum

from oscar.core import settings

# EFI global variable SecureBoot: 4 bytes of attributes, then 1 byte, 1 when enforced.
SECURE_BOOT_VAR = "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


class BootMode(Enum):
    BIOS = "bios"
    UEFI = "uefi"
    SECURE = "uefi-secure-boot"


def boot_mode() -> BootMode:
    firmware = settings.EFI_FIRMWARE.path()
    if not firmware.is_dir():
        return BootMode.BIOS
    try:
        value = (firmware / SECURE_BOOT_VAR).read_bytes()
    except OSError:
        return BootMode.UEFI
    return BootMode.SECURE if len(value) >= 5 and value[4] == 1 else BootMode.UEFI


def kernel_cmdline() -> str:
    """The kernel's command line (OSCAR_CMDLINE in tests): what the boot menu passed."""
    try:
        return settings.CMDLINE.path().read_text()
    except OSError:
        return ""
