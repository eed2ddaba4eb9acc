"""How the PC started (BIOS, UEFI, Secure Boot), read as the kernel shows it, and said on the
menu's first screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.core import platform
from oscar.ui.tui.main import boot_mode_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("variable, expected", [
    (None, platform.BootMode.UEFI),  # no SecureBoot variable: firmware without Secure Boot
    (b"\x06\x00\x00\x00\x00", platform.BootMode.UEFI),
    (b"\x06\x00\x00\x00\x01", platform.BootMode.SECURE),
    (b"\x06\x00", platform.BootMode.UEFI),  # truncated: not on
])
def test_boot_mode_from_the_secure_boot_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 variable: bytes | None,
                                                 expected: platform.BootMode) -> None:
    firmware = tmp_path / "efi"
    (firmware / "efivars").mkdir(parents=True)
    if variable is not None:
        (firmware / platform.SECURE_BOOT_VAR).write_bytes(variable)
    monkeypatch.setenv("OSCAR_EFI_FIRMWARE", str(firmware))
    assert platform.boot_mode() is expected


def test_bios_when_the_kernel_shows_no_uefi_firmware(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSCAR_EFI_FIRMWARE", str(tmp_path / "absent"))
    assert platform.boot_mode() is platform.BootMode.BIOS
    monkeypatch.setenv("OSCAR_LANG", "en")
    assert boot_mode_text(platform.BootMode.SECURE) == "UEFI, Secure Boot on"
    assert boot_mode_text(platform.BootMode.BIOS) == "BIOS"
