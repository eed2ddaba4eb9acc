"""The live image: built from Debian packages (bootimage/build.py) and booted in qemu -accel tcg,
BIOS (SeaBIOS) and UEFI (OVMF), watched and driven over the serial console."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.vm import Qemu

pytestmark = pytest.mark.vm
OUT = ROOT / "bootimage/out"
BOOT_TIMEOUT = 600  # tcg on 2 cores: GRUB, the kernel, live-boot, systemd, the menu


@pytest.fixture(scope="module")
def iso() -> Path:
    """A test build (lz4 squashfs); the Debian base comes from the build cache when present."""
    result = subprocess.run([sys.executable, str(ROOT / "bootimage/build.py"), "--fast"],
                            capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-5000:]
    image = OUT / "oscar.iso"
    assert image.stat().st_size < 400_000_000
    manifest = (OUT / "packages.manifest").read_text()
    for package in ("fsarchiver", "partclone", "ntfs-3g", "python3-urwid", "udpcast",
                    "grub-efi-amd64-bin", "live-boot", "linux-image-amd64"):
        assert f"\n{package} " in manifest, package
    return image


@pytest.fixture
def vm_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "serial.log"
    yield path


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_iso_boots_into_the_oscar_menu(iso: Path, firmware: str, vm_log: Path) -> None:
    vm = Qemu(iso=iso, uefi=firmware == "uefi", log=vm_log)
    try:
        vm.wait_for("OSCAR (English)", 180)  # GRUB's menu, on the serial line too
        text = vm.text()
        assert "restaure" in text and "OSCAR" in text
        vm.send("\r")  # the default entry: OSCAR
        seconds = vm.wait_for("Sauvegarde", BOOT_TIMEOUT)
        vm.wait_for("Restauration", 30)
        print(f"{firmware}: menu on the serial console {seconds:.0f} s after GRUB")
    finally:
        vm.close()
