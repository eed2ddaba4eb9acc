"""The firmware the Secure Boot tests rely on really enforces it: OVMF with Secure Boot on and
Microsoft's keys refuses an unsigned GRUB and starts Debian's signed chain from the same place
(so a boot that reaches OSCAR under it proves the chain is signed). And the ISO written to a USB
key with dd starts under it (the CD is proven to the menu in test_vm_image). Seconds each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.vm import Qemu

pytestmark = pytest.mark.vm
MARKER = "oscar-signed-chain-started"
ESP_START = 2048  # sectors
ESP_MB = 32


def esp_disk(tmp_path: Path, loader: Path, beside: dict[str, Path]) -> Path:
    """A GPT disk whose EFI partition holds ``loader`` as the fallback BOOTX64.EFI."""
    disk, esp = tmp_path / "disk.img", tmp_path / "esp.img"
    for image, size in ((disk, ESP_MB + 2), (esp, ESP_MB)):
        image.unlink(missing_ok=True)
        with image.open("wb") as fh:
            fh.truncate(size << 20)
    sh("sgdisk", f"--new=1:{ESP_START}:+{ESP_MB - 1}M", "--typecode=1:ef00", str(disk))
    sh("mkfs.vfat", "-n", "ESP", str(esp))
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    sh("mmd", "-i", str(esp), "::/EFI", "::/EFI/BOOT", env=env)
    sh("mcopy", "-i", str(esp), str(loader), "::/EFI/BOOT/BOOTX64.EFI", env=env)
    for name, path in beside.items():
        sh("mcopy", "-i", str(esp), str(path), f"::/EFI/BOOT/{name}", env=env)
    sh("dd", f"if={esp}", f"of={disk}", "bs=512", f"seek={ESP_START}", "conv=notrunc",
       "status=none")
    return disk


def test_secure_boot_refuses_an_unsigned_grub_and_starts_the_signed_chain(
        tmp_path: Path) -> None:
    config = tmp_path / "grub.cfg"
    config.write_text(f"echo {MARKER} shim_lock=$shim_lock\nsleep 1\nhalt\n")
    unsigned = tmp_path / "unsigned.efi"
    sh("grub-mkimage", "--format", "x86_64-efi", "--prefix", "/EFI/BOOT", "--output",
       str(unsigned), "normal", "echo", "configfile", "fat", "part_gpt", "sleep", "halt")
    disk = esp_disk(tmp_path, unsigned, {"grub.cfg": config})
    vm = Qemu(disks=[disk], secure_boot=True, log=tmp_path / "serial-unsigned.log")
    try:
        # The firmware refuses to load it ("Access Denied"; OVMF's serial line sometimes drops
        # that word) and finds nothing else to start; GRUB never runs.
        vm.wait_for("No bootable option or device was found", 120)
        text = vm.text()
        assert "failed to load Boot0002" in text and MARKER not in text, text[-2000:]
    finally:
        vm.close()

    signed = {"grubx64.efi": Path("/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"),
              "mmx64.efi": Path("/usr/lib/shim/mmx64.efi.signed"), "grub.cfg": config}
    disk = esp_disk(tmp_path, Path("/usr/lib/shim/shimx64.efi.signed"), signed)
    vm = Qemu(disks=[disk], secure_boot=True, log=tmp_path / "serial-signed.log")
    try:
        vm.wait_for(f"{MARKER} shim_lock=y", 120)  # GRUB started by shim, verifying
    finally:
        vm.close()


def test_the_iso_written_to_a_key_starts_under_secure_boot(iso: Path, tmp_path: Path) -> None:
    vm = Qemu(usb_key=iso, secure_boot=True, log=tmp_path / "serial.log")
    try:
        vm.wait_for("OSCAR (English)", 180)  # the signed CD GRUB found the key, read its menu
        assert "restaure" in vm.text()
    finally:
        vm.close()
