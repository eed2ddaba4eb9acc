"""An OSCAR USB disk (a sparse 500 GB image laid out by `oscar usbdisk init` with the live
image's real files) plugged into a UEFI PC with Secure Boot enforced (OVMF) beside the lab's
model PC: the firmware starts shim and Debian's signed GRUB from the disk's EFI partition,
GRUB the live system from OSCAR-BOOT, and OSCAR's menu comes up; from its shell,
`oscar usbdisk mount` mounts OSCAR-SAVE and OSCAR-ECOLE (NTFS) and a PC saved onto
OSCAR-ECOLE is read back on the host, in the backup the live system wrote.

Under BIOS (SeaBIOS) the same disk is started up to GRUB's menu, read from OSCAR-BOOT: the
kernel line after it is the one UEFI boots to the end, so one full boot keeps the vm tier
short."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.ops import lab as labmod
from tests.conftest import LAB_DATA_MB, LAB_SIZE, OUT, oscar, sh
from tests.vm import Qemu

pytestmark = pytest.mark.vm
BOOT_TIMEOUT = 600
DISK_500GB = 500_107_862_016


@pytest.fixture(scope="module")
def usb(iso: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    image = tmp_path_factory.mktemp("usbdisk") / "usb.img"
    with image.open("wb") as fh:
        fh.truncate(DISK_500GB)
    device = labmod.attach_image(image)
    try:
        laid = oscar("usbdisk", "init", "--disk", device, "--image", str(OUT), "--no-password",
                     "--yes")
        assert laid.returncode == 0, laid.stdout + laid.stderr
    finally:
        labmod.detach_device(device)
    yield image
    image.unlink()


def test_a_bios_pc_reaches_the_usb_disk_menu(usb: Path, tmp_path: Path) -> None:
    vm = Qemu(usb_disk=usb, log=tmp_path / "serial.log")
    try:
        vm.wait_for("OSCAR (English)", 300)  # GRUB's menu, from OSCAR-BOOT
        text = vm.text()
        assert "restaure" in text and "Boot from the first hard disk" in text
    finally:
        vm.close()


def test_the_usb_disk_starts_oscar_and_keeps_a_backup(usb: Path, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    labmod.create(root, clients=0, size=LAB_SIZE, data_mb=LAB_DATA_MB)
    # A PC with Secure Boot enforced (Microsoft's keys): shim, the signed GRUB and kernel
    vm = Qemu(usb_disk=usb, disks=[root / "model.img"], secure_boot=True,
              log=tmp_path / "serial.log")
    try:
        vm.wait_for("OSCAR (English)", 300)  # GRUB's menu from the USB disk
        vm.wait_for("Sauvegarde", BOOT_TIMEOUT)  # no password: OSCAR starts by itself
        assert "SecureBoot enabled" in vm.text()  # the kernel's word, through mokutil
        assert "UEFI, Secure Boot activé" in vm.text()
        vm.send("o", 1)  # Outils > Shell
        vm.send("\r", 2)
        vm.send("s", 1)
        vm.send("\r", 2)
        vm.wait_for("exit", 60)
        vm.send("oscar usbdisk mount > /tmp/m && cat /tmp/m && "
                "S=$(sed -n 's/^OSCAR-ECOLE[^:]*: //p' /tmp/m) && "
                "oscar save --disk /dev/vda --store $S --name pc-usb --yes >/dev/null 2>&1 && "
                "oscar usbdisk umount && echo SAVED-$((40+2))\r", 2)
        vm.wait_for("SAVED-42", 1200)
        text = vm.text()
        assert "OSCAR-SAVE (/dev/sda3): /run/oscar/usb-save-sda3" in text, text[-2000:]
        assert "OSCAR-ECOLE (/dev/sda4): /run/oscar/usb-school-sda4" in text
        vm.send("poweroff\r", 2)
        vm.wait_exit(300)
    finally:
        if vm.proc.poll() is None:
            vm.screendump(tmp_path / "screen-at-failure.png")
        vm.close()
        labmod.destroy(root)
    device = labmod.attach_image(usb)
    point = tmp_path / "ecole"
    point.mkdir()
    try:
        sh("ntfs-3g", "-o", "ro", partition_path(device, 4), str(point))
        try:
            listing = json.loads(oscar("list", str(point), "--json").stdout)
            assert [(b["name"], b["state"]) for b in listing] == [("pc-usb", "complete")]
            assert oscar("verify", str(point / "pc-usb")).returncode == 0
        finally:
            sh("umount", str(point))
    finally:
        labmod.detach_device(device)
