"""qemu (-accel tcg) with its serial console on a Unix socket: what the booted system prints,
and keys sent to it, as a person at a serial terminal would."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# Secure Boot enforced, Microsoft's keys enrolled (Debian's shim is signed by Microsoft's UEFI
# CA): what a school PC bought in the last ten years does out of the box.
OVMF_CODE_SECBOOT = Path("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
OVMF_VARS_MS = Path("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class Qemu:
    def __init__(self, *, iso: Path | None = None, disks: list[Path] = (), uefi: bool = False,  # type: ignore[assignment]
                 secure_boot: bool = False,
                 memory: int = 2048, log: Path | None = None, usb_key: Path | None = None,
                 usb_disk: Path | None = None,
                 kernel: tuple[Path, Path, str] | None = None, network: bool = False,
                 netns: str | None = None, tap: str | None = None, mac: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="oscar-vm-"))
        self.sock_path = self.dir / "serial.sock"
        self.log = log or self.dir / "serial.log"
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(memory), "-smp", "2",
                "-display", "none", "-no-reboot",
                *(["-nic", "user,model=virtio-net-pci"] if network else
                  [] if tap else ["-nic", "none"]),
                "-chardev", f"socket,id=s0,path={self.sock_path},server=on,wait=off",
                "-serial", "chardev:s0",
                # The monitor: screendump shows tty1, which the serial line does not.
                "-monitor", f"unix:{self.dir / 'monitor.sock'},server=on,wait=off"]
        if secure_boot:
            # OVMF's Secure Boot build keeps its variables in SMM: q35 with SMM on and the
            # variable store writable only from SMM.
            vars_copy = self.dir / "OVMF_VARS.fd"
            shutil.copy(OVMF_VARS_MS, vars_copy)
            argv += ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on",
                     "-global", "ICH9-LPC.disable_s3=1",
                     "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE_SECBOOT}",
                     "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
        elif uefi:
            vars_copy = self.dir / "OVMF_VARS.fd"
            shutil.copy(OVMF_VARS, vars_copy)
            argv += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,file={vars_copy}"]
        if iso is not None:
            argv += ["-drive", f"file={iso},media=cdrom,readonly=on,if=ide,index=2", "-boot", "d"]
        if kernel is not None:
            # Straight into the live system's kernel, as GRUB on the PC or PXE would start it.
            argv += ["-kernel", str(kernel[0]), "-initrd", str(kernel[1]), "-append", kernel[2]]
        if usb_key is not None:
            # The ISO written to a USB key with dd is this very file: boot it as a USB disk.
            argv += ["-device", "qemu-xhci", "-drive",
                     f"if=none,id=stick,format=raw,readonly=on,file={usb_key}",
                     "-device", "usb-storage,drive=stick,bootindex=0"]
        if usb_disk is not None:
            # An external USB disk, written to by the system it starts (its backups)
            argv += ["-device", "qemu-xhci", "-drive",
                     f"if=none,id=usbdisk,format=raw,file={usb_disk}",
                     "-device", "usb-storage,drive=usbdisk,bootindex=0"]
        if tap is not None:
            # A PC booting from its network card: qemu's iPXE ROM (BIOS and UEFI) on a tap
            # device of a namespace bridged to the room; the NIC is the first boot device.
            # Under UEFI the firmware's own PXE stack, as on a real PC, not qemu's iPXE ROM:
            # iPXE's PXE emulation reports a wrong file size to shim ("Malformed binary").
            rom = ",romfile=" if (uefi or secure_boot) else ""
            argv += ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                     "-device", f"virtio-net-pci,netdev=n0,bootindex=0,"
                                f"mac={mac or '52:54:00:0a:0b:0c'}{rom}"]
        for index, disk in enumerate(disks):
            argv += ["-drive", f"file={disk},format=raw,if=virtio,index={index}"]
        if netns is not None:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.sock = self._connect()
        self.raw = bytearray()
        self.fh = self.log.open("wb")

    def _connect(self) -> socket.socket:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"qemu exited: {out}")
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(str(self.sock_path))
                sock.settimeout(0.2)
                return sock
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("qemu's serial socket never appeared")

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.raw += data
                self.fh.write(data)
                self.fh.flush()
        except (TimeoutError, BlockingIOError):
            return

    def text(self) -> str:
        """Everything printed so far, escape sequences removed."""
        self._read()
        return ANSI.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    def mark(self) -> int:
        """Where the serial output is now: wait_for(..., since=mark) sees only what follows."""
        self._read()
        return len(self.raw)

    def wait_for(self, pattern: str, timeout: float, since: int | None = None) -> float:
        """Seconds until ``pattern`` (a plain string) appears on the serial console (in the
        last 4 KiB already read as well, unless ``since`` says from where)."""
        began = time.monotonic()
        start = len(self.raw) if since is None else since
        back = 4096 if since is None else 0
        while time.monotonic() - began < timeout:
            self._read()
            if pattern in ANSI.sub(b"", bytes(self.raw[max(0, start - back):])).decode(
                    "utf-8", "replace"):
                return time.monotonic() - began
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.text()[-3000:]
        raise AssertionError(f"{pattern!r} not seen in {timeout:.0f} s; serial tail:\n{tail}")

    def wait_exit(self, timeout: float) -> None:
        """Until the VM powers off or restarts (-no-reboot), reading the serial line all along:
        a full socket would stall the guest's console, and the program writing to it."""
        end = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > end:
                raise AssertionError(f"the VM still runs after {timeout:.0f} s; serial tail:\n"
                                     f"{self.text()[-3000:]}")
            self._read()
            time.sleep(0.2)
        self._read()

    def send(self, data: str | bytes, pause: float = 0.3) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)
        end = time.monotonic() + pause
        while time.monotonic() < end:  # keep reading: the console is never left unread
            self._read()
            time.sleep(0.05)

    def monitor(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mon:
            mon.settimeout(10)
            mon.connect(str(self.dir / "monitor.sock"))
            mon.sendall(f"{command}\n".encode())
            time.sleep(0.5)

    def sendkey(self, keys: str) -> None:
        """Keys on the PC's keyboard (qemu's sendkey: ctrl-q), for what the screen shows."""
        self.monitor(f"sendkey {keys}")

    def type_on_azerty(self, text: str) -> None:
        """``text`` typed on the PC's keyboard as a French person does on AZERTY keys: each
        character is the physical key (qemu names keys by their US place) that carries it on
        a French keyboard. Letters and digits only (what the tests' passwords use)."""
        moved = {"a": "q", "q": "a", "z": "w", "w": "z", "m": "semicolon"}
        for char in text:
            if char.isdigit():
                key = f"shift-{char}"  # digits are shifted on AZERTY
            elif char.isalpha() and char.isascii():
                key = moved.get(char.lower(), char.lower())
                key = f"shift-{key}" if char.isupper() else key
            else:
                raise ValueError(f"no AZERTY key table for {char!r} in the tests")
            self.sendkey(key)

    def screendump(self, target: Path, fmt: str = "png") -> bool:
        """The VM's screen as a PNG or PPM (what a person in front of the PC sees): tty1, an
        X session and, under UEFI, GRUB after its first screen, which the serial line does
        not show."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mon:
                mon.settimeout(10)
                mon.connect(str(self.dir / "monitor.sock"))
                mon.sendall(f"screendump {target} -f {fmt}\n".encode())
                end = time.monotonic() + 10
                while not target.exists() and time.monotonic() < end:
                    time.sleep(0.2)
                time.sleep(0.5)
        except OSError:
            return False
        return target.exists()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.close()
        self.fh.close()
        shutil.rmtree(self.dir, ignore_errors=True)
