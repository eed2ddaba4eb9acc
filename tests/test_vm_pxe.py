"""PCs that boot from the network, in qemu -accel tcg: qemu's iPXE ROM on a tap device of a
client namespace, bridged to a room where OSCAR's network boot runs. BIOS beside a school's
DHCP server (proxy DHCP), receiving a real deployment onto the VM's disk; UEFI with Secure
Boot enforced (OVMF's own PXE stack, Microsoft's keys) beside the same school server, OSCAR in
pxe mode, through shim and the signed network GRUB into the OSCAR menu behind the password."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.ops import lab as labmod
from tests.conftest import LAB_DATA_MB, LAB_SIZE, OUT, fs_clean, oscar, snapshot_partition
from tests.netbed import PYTHON, ROOT, Netbed, netbed
from tests.vm import Qemu

pytestmark = pytest.mark.vm
UP = "\x1b[A"
PASSWORD = "ecole42"
BOOT_TIMEOUT = 600
DATA = ((1, "ntfs"), (2, "ext4"))


def env_for(bed: Netbed, tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OSCAR_LANG": "en",
            "OSCAR_PXE_DIR": f"/run/oscar-test/pxe-{bed.tag}",
            "OSCAR_CONFIG": str(tmp / "oscar.yaml")}


def pxe(bed: Netbed, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", bed.host(0), PYTHON, "-m", "oscar", "pxe",
                           *args], capture_output=True, text=True, env=env_for(bed, tmp),
                          cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def pxe_running(bed: Netbed, tmp: Path, *args: str) -> Iterator[str]:
    """OSCAR's network boot on the server; stopped whatever happens (its supervisor runs in a
    session of its own), and its stop must leave nothing."""
    started = pxe(bed, tmp, "start", "--interface", "eth0", "--live-dir", str(OUT), *args)
    assert started.returncode == 0, started.stderr
    stopped = False
    try:
        yield started.stdout
        result = pxe(bed, tmp, "stop")
        stopped = True
        assert result.returncode == 0, result.stderr
        assert not Path(env_for(bed, tmp)["OSCAR_PXE_DIR"]).exists()
    finally:
        if not stopped:
            pxe(bed, tmp, "stop")


def school_dhcp(bed: Netbed, tmp: Path) -> None:
    net = bed.address(0).rsplit(".", 1)[0]
    bed.procs.append(subprocess.Popen(
        ["ip", "netns", "exec", bed.host(1), "dnsmasq", "--keep-in-foreground", "--port=0",
         "--interface=eth0", "--bind-interfaces", "--log-facility=-",
         f"--dhcp-range={net}.100,{net}.150,12h", f"--dhcp-leasefile={tmp / 'school.leases'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True))


def choose_entry(vm: Qemu, ups: int) -> None:
    """The network menu starts on its default, the local disk (last): up to the entry."""
    vm.wait_for("Boot the local disk", BOOT_TIMEOUT)
    for _press in range(ups):
        vm.send(UP, pause=0.7)
    vm.send("\r")


def test_bios_pc_boots_from_the_network_and_receives_a_deployment(iso: Path,
                                                                  tmp_path: Path) -> None:
    root = tmp_path / "lab"
    labmod.create(root, clients=0, gpt=False, size=LAB_SIZE, data_mb=LAB_DATA_MB)
    store = tmp_path / "store"
    store.mkdir()
    model = labmod.attach_image(root / "model.img")
    try:
        saved = oscar("save", "--disk", model, "--store", str(store), "--name", "salle2",
                      "--yes")
        assert saved.returncode == 0, saved.stderr
        expected = {n: snapshot_partition(partition_path(model, n), fs) for n, fs in DATA}
    finally:
        labmod.detach_device(model)
    disk = tmp_path / "client.img"
    with disk.open("wb") as fh:
        fh.truncate(LAB_SIZE)
    with netbed(2) as bed:
        school_dhcp(bed, tmp_path)
        with pxe_running(bed, tmp_path, "--store", str(store)) as started:
            assert "proxy DHCP" in started
            deploy_over_pxe(bed, tmp_path, store, disk)
    client = labmod.attach_image(disk)
    try:
        for number, fstype in DATA:
            device = partition_path(client, number)
            fs_clean(device, fstype)
            assert snapshot_partition(device, fstype) == expected[number], number
    finally:
        labmod.detach_device(client)


def deploy_over_pxe(bed: Netbed, tmp_path: Path, store: Path, disk: Path) -> None:
    send_log = tmp_path / "send.log"
    send = bed.oscar(0, "deploy", "send", "--procedure", "formate", "--store", str(store),
                     "--name", "salle2", "--clients", "1", "--max-wait", "1200",
                     "--then", "poweroff", "--yes", env=env_for(bed, tmp_path), log=send_log)
    vm = Qemu(disks=[disk], netns=bed.host(2), tap=bed.tap(2), memory=2048,
              log=tmp_path / "serial.log")
    try:
        began = time.monotonic()
        choose_entry(vm, ups=2)  # "OSCAR — receive the deployment"
        vm.wait_for("Connecting to", BOOT_TIMEOUT)  # live-boot fetches the squashfs
        vm.wait_exit(1200)  # received, written, powered off
        print(f"network boot and deployment: {time.monotonic() - began:.0f} s")
    finally:
        vm.close()
    assert send.wait(120) == 0, send_log.read_text()[-3000:]
    assert "- clients done: 1/1" in send_log.read_text(), send_log.read_text()[-3000:]


def test_secure_boot_pc_boots_from_the_network_into_the_menu_behind_the_password(
        iso: Path, tmp_path: Path) -> None:
    env = {"OSCAR_CONFIG": str(tmp_path / "oscar.yaml"), "HOME": str(tmp_path)}
    assert oscar("password", "--stdin", env=env, stdin=PASSWORD + "\n").returncode == 0
    disk = tmp_path / "client.img"
    with disk.open("wb") as fh:
        fh.truncate(64 << 20)
    with netbed(2) as bed:
        # Beside the school's DHCP server: proxy DHCP cannot lead Debian's signed GRUB to
        # OSCAR, the pxe mode does (OSCAR leases its own range to PXE firmware only).
        school_dhcp(bed, tmp_path)
        net = bed.address(0).rsplit(".", 1)[0]
        with pxe_running(bed, tmp_path, "--dhcp", "pxe", "--range",
                         f"{net}.240,{net}.250") as started:
            assert "OSCAR entries protected by the password" in started
            assert "network-booting PCs only" in started
            # Secure Boot enforced: shim, then the signed network GRUB, from the TFTP root
            vm = Qemu(disks=[disk], netns=bed.host(2), tap=bed.tap(2), memory=2048,
                      secure_boot=True, log=tmp_path / "serial.log")
            try:
                choose_entry(vm, ups=1)  # "OSCAR": the menu
                vm.wait_for("Enter username:", 60)
                vm.send("oscar\r")
                vm.wait_for("Enter password:", 60)
                vm.type_on_azerty(PASSWORD)  # on the PC's French keyboard
                vm.sendkey("ret")
                vm.wait_for("Connecting to", BOOT_TIMEOUT)
                # the OSCAR menu, in the server's language (the tests run OSCAR in English)
                vm.wait_for("Save the partitions of this PC", BOOT_TIMEOUT)
                text = vm.text()
                assert "SecureBoot enabled" in text and "UEFI, Secure Boot on" in text
            finally:
                vm.close()
            status = pxe(bed, tmp_path, "status")
            assert "Leased:" in status.stdout and "52:54:00:0a:0b:0c" in status.stdout
            leased = next(line for line in status.stdout.splitlines() if "Leased:" in line)
            assert int(leased.split("Leased: ")[1].split()[0].rsplit(".", 1)[1]) >= 240
