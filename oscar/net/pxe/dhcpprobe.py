"""Who answers DHCP on a network: one DHCPDISCOVER, the offers collected for a few seconds.

OSCAR asks before it leases addresses, because two DHCP servers on one LAN hand out
conflicting addresses to a whole school. The packets are built and read with scapy; they go
through a plain UDP socket bound to the interface, so no raw socket is needed. Nothing is ever
requested: an offer is only a proposal, and the servers forget it.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import time
from dataclasses import dataclass

from scapy.layers.dhcp import BOOTP, DHCP

log = logging.getLogger("oscar.pxe.dhcpprobe")

CLIENT_PORT = 68
SERVER_PORT = 67
BROADCAST_FLAG = 0x8000  # answer by broadcast: the prober has no address to be answered at
NO_ADDRESS = "0.0.0.0"
# What a PXE firmware says of itself (RFC 4578): the vendor class, the architecture (0: BIOS,
# 7: x86-64 UEFI) and the UNDI version; a proxy DHCP server answers only such clients.
PXE_VENDOR_CLASS = "PXEClient:Arch:{arch:05d}:UNDI:002001"


@dataclass(frozen=True)
class Offer:
    server: str  # the server identifier (option 54), else the packet's source
    address: str  # the address offered; 0.0.0.0 in a proxy DHCP answer
    boot_file: str
    next_server: str
    vendor_class: str

    @property
    def leases(self) -> bool:
        """A server that hands out addresses (not a proxy DHCP that only adds boot data)."""
        return self.address != NO_ADDRESS


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def discover_packet(mac: str, xid: int, *, pxe_arch: int | None = None) -> bytes:
    options: list[object] = [("message-type", "discover"),
                             ("param_req_list", [1, 3, 6, 43, 54, 60, 66, 67])]
    if pxe_arch is not None:
        options += [("vendor_class_id", PXE_VENDOR_CLASS.format(arch=pxe_arch).encode()),
                    (93, pxe_arch.to_bytes(2, "big")),
                    (97, b"\x00" + bytes(16))]
    options.append("end")
    packet = BOOTP(op=1, xid=xid, flags=BROADCAST_FLAG, chaddr=mac_bytes(mac) + bytes(10))
    return bytes(packet / DHCP(options=options))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("ascii", "replace")
    return str(value)


def parse_offer(data: bytes, xid: int, source: str) -> Offer | None:
    """The offer in ``data`` if it answers our discover ``xid``; None for anything else."""
    try:
        packet = BOOTP(data)
    except Exception:  # noqa: BLE001 - scapy raises many types on junk; junk is not an offer
        return None
    if packet.op != 2 or packet.xid != xid or DHCP not in packet:
        return None
    options = {item[0]: item[1] for item in packet[DHCP].options
               if isinstance(item, tuple) and len(item) >= 2}
    if options.get("message-type") != 2:  # 2: DHCPOFFER
        return None
    boot_file = _text(packet.file) or _text(options.get("boot-file-name", b""))
    return Offer(server=str(options.get("server_id", source)), address=str(packet.yiaddr),
                 boot_file=boot_file, next_server=str(packet.siaddr),
                 vendor_class=_text(options.get("vendor_class_id", b"")))


def probe(interface: str, mac: str, seconds: float = 3.0, *,
          pxe_arch: int | None = None) -> list[Offer]:
    """Broadcast one DHCPDISCOVER on ``interface`` and collect the offers for ``seconds``."""
    xid = random.getrandbits(32)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # A DHCP client of this PC may hold port 68 too: both sockets set SO_REUSEADDR, and
        # broadcast answers reach both.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(("", CLIENT_PORT))
        sock.sendto(discover_packet(mac, xid, pxe_arch=pxe_arch),
                    ("255.255.255.255", SERVER_PORT))
        log.info("DHCP discover sent on %s (xid %08x), listening %.1f s", interface, xid, seconds)
        offers: list[Offer] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _w, _x = select.select([sock], [], [], left)
            if not ready:
                break
            data, (source, _port) = sock.recvfrom(4096)
            offer = parse_offer(data, xid, source)
            if offer is not None and offer not in offers:
                log.info("DHCP offer from %s: address %s, boot file %r", offer.server,
                         offer.address, offer.boot_file)
                offers.append(offer)
        return offers
    finally:
        sock.close()
