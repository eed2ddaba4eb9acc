"""Every OSCAR_* environment variable, in one place: its name, its default and what it is for.

Each is read when it is used (``setting.value()``), never at import: a test or a technician
may set one after OSCAR is loaded. An empty value counts as unset. docs/architecture.md lists
them for people; `test_unit_architecture` keeps the code from reading any other way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    purpose: str

    def value(self) -> str:
        return os.environ.get(self.name) or self.default

    def path(self) -> Path:
        return Path(self.value())

    def is_set(self) -> bool:
        return bool(os.environ.get(self.name))


CONFIG = Setting("OSCAR_CONFIG", "/etc/oscar/oscar.yaml",
                 "the configuration file (password hash, store, reboot command, countdown)")
LANG = Setting("OSCAR_LANG", "",
               "the language of messages: 'en' for English; French otherwise (then LANGUAGE, "
               "LC_ALL, LC_MESSAGES, LANG decide)")
TOOL_PATH = Setting("OSCAR_TOOL_PATH", "",
                    "replaces the whole search path for outside programs (tests prove that a "
                    "missing tool is named)")
LOCK_DIR = Setting("OSCAR_LOCK_DIR", "/run/oscar/locks",
                   "where the per-disk locks live (one operation per disk)")
BOOT_DEVICE = Setting("OSCAR_BOOT_DEVICE", "",
                      "comma-separated devices to treat as the boot medium (never written to)")
CMDLINE = Setting("OSCAR_CMDLINE", "/proc/cmdline",
                  "the file read as the kernel command line (oscar=restaure, oscar.backup=)")
MENUS = Setting("OSCAR_MENUS", "", "a folder of menu YAML files used instead of the packaged ones")
GRUB_TEMPLATES = Setting("OSCAR_GRUB_TEMPLATES", "",
                         "a school's own copy of the GRUB and dnsmasq templates")
GRUB_LIB = Setting("OSCAR_GRUB_LIB", "/usr/lib/grub",
                   "GRUB's module folders (i386-pc, x86_64-efi) used to build boot images")
SIGNED_GRUB = Setting("OSCAR_SIGNED_GRUB", "/usr/lib/grub/x86_64-efi-signed",
                      "Debian's signed GRUB images (grub-efi-amd64-signed) for UEFI Secure Boot")
SHIM_DIR = Setting("OSCAR_SHIM_DIR", "/usr/lib/shim",
                   "Debian's signed shim and MokManager (shim-signed) for UEFI Secure Boot")
EFI_FIRMWARE = Setting("OSCAR_EFI_FIRMWARE", "/sys/firmware/efi",
                       "where the kernel shows the UEFI firmware (absent: a BIOS start)")
PXE_DIR = Setting("OSCAR_PXE_DIR", "/run/oscar/pxe",
                  "the network boot service's folder (state, TFTP and HTTP trees, leases)")
REGISTRY_SEED = Setting("OSCAR_REGISTRY_SEED", "",
                        "the minimal Windows SYSTEM hive the test lab puts on its model PC")

ALL = (CONFIG, LANG, TOOL_PATH, LOCK_DIR, BOOT_DEVICE, CMDLINE, MENUS, GRUB_TEMPLATES, GRUB_LIB,
       SIGNED_GRUB, SHIM_DIR, EFI_FIRMWARE, PXE_DIR, REGISTRY_SEED)
