#!/bin/bash
# Installs everything OSCAR and its tests need on Debian 12, as root. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # the tools OSCAR drives
  fsarchiver partclone ntfs-3g fdisk gdisk parted util-linux mount e2fsprogs dosfstools mtools
  zstd pigz attr psmisc procps coreutils
  # the Python runtime the boot image ships
  python3 python3-venv python3-pip python3-wheel python3-setuptools python3-urwid python3-pyudev python3-parted
  python3-paramiko python3-jinja2 python3-yaml python3-hivex python3-cffi-backend libhivex-bin
  python3-scapy
  # property-based tests of the parsers and the escaping (hostile input)
  python3-hypothesis
  # Clonezilla as a peer in the tests: its ocs-sr restores OSCAR's backups and saves images
  # OSCAR restores
  clonezilla drbl
  # message catalogues
  gettext
  # the menu's end-to-end tests drive the real program in a terminal multiplexer
  tmux
  # deployment: multicast, the HTTP server, network namespaces and link shaping (net tier)
  udpcast lighttpd iproute2
  # network boot: DHCP/proxy DHCP and TFTP; a real DHCP client and TFTP/HTTP client (net tier)
  dnsmasq-base udhcpc curl
  # SSH export/import: the tests start their own OpenSSH server on 127.0.0.1
  openssh-server openssh-client
  # building the live image and booting it in qemu (make image, the vm tier)
  debootstrap squashfs-tools xorriso grub-common grub-pc-bin grub-efi-amd64-bin
  qemu-system-x86 ovmf ipxe-qemu
  # UEFI Secure Boot: Debian's signed shim and GRUB, which oscar install, usbdisk init and the
  # network boot write (the vm tier boots them with Secure Boot enforced); lsinitramfs
  shim-signed grub-efi-amd64-signed initramfs-tools-core
  # BitLocker volumes of Windows PCs, opened read-only through FUSE (oscar save)
  dislocker
  # the vm tier's small PCs: a BIOS one started by syslinux's MBR code from its active partition
  syslinux syslinux-common
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# OSCAR starts lighttpd itself, only during a deployment; Debian's service must not hold
# port 80 on every interface of a test machine.
if command -v systemctl >/dev/null && systemctl is-enabled lighttpd >/dev/null 2>&1; then
  systemctl disable --now lighttpd >/dev/null 2>&1 || true
fi
# Same for OpenSSH's server: the tests run their own, on 127.0.0.1 and a port of their own.
if command -v systemctl >/dev/null && systemctl is-enabled ssh >/dev/null 2>&1; then
  systemctl disable --now ssh >/dev/null 2>&1 || true
fi

# Test tools live in a venv that sees Debian's python3-* packages (the runtime ones).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import hivex, urwid' 2>/dev/null; then
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c 'import pytest, mypy, ruff' 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
fi

# Compiled French catalogue.
msgfmt -c -o oscar/data/locale/fr/LC_MESSAGES/oscar.mo oscar/data/locale/fr/LC_MESSAGES/oscar.po

# Loop devices: the kernel may need its module, and a fresh container may lack the nodes.
modprobe loop 2>/dev/null || true
for i in $(seq 0 31); do
  [ -e /dev/loop$i ] || mknod -m 660 /dev/loop$i b 7 $i
done
[ -e /dev/loop-control ] || mknod -m 660 /dev/loop-control c 10 237 || true
echo "setup: ready"
