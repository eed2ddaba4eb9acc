"""What OSCAR's network boot serves and how it answers DHCP: decided before anything starts,
from the interface, the technician's choices and the DHCP servers that answered (no I/O here)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from oscar.core.errors import UsageError
from oscar.core.i18n import _
from oscar.net.pxe.dhcpprobe import Offer

DHCP_CHOICES = ("auto", "proxy", "pxe", "full", "none")
# Modes in which OSCAR leases addresses itself: full to every PC, pxe only to PCs whose
# firmware boots from the network (their DHCP request says "PXEClient").
LEASING_MODES = ("full", "pxe")
HTTP_PORT = 7173  # the deployment's own HTTP server uses 7172: both may run at once
LEASE_TIME = "1h"


@dataclass
class PxeSettings:
    interface: str
    server: str  # OSCAR's address on the interface
    prefix: int  # its network's prefix length
    mode: str  # proxy, pxe, full or none (auto is decided before)
    live_dir: str  # vmlinuz, initrd.img, filesystem.squashfs
    store: str | None = None  # the backups served over HTTP too
    range_from: str | None = None  # full and pxe modes
    range_to: str | None = None
    added_address: str | None = None  # ADDRESS/PREFIX OSCAR put on the interface itself
    http_port: int = HTTP_PORT
    timeout: int = 10  # seconds of the network boot menu before the local disk boots
    password_hash: str | None = None
    lang: str = "fr"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Interface(f"{self.server}/{self.prefix}").network

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PxeSettings:
        return cls(**json.loads(text))


def parse_address(text: str) -> ipaddress.IPv4Interface:
    """--address 192.168.50.1/24: the address OSCAR gives itself on a LAN with no DHCP."""
    try:
        value = ipaddress.IPv4Interface(text)
    except ValueError as exc:
        raise UsageError(_("'{text}' is not an address with its prefix.").format(text=text),
                         _("Write it like 192.168.50.1/24.")) from exc
    if "/" not in text or value.network.prefixlen > 30:
        raise UsageError(_("'{text}' is not an address with its prefix.").format(text=text),
                         _("Write it like 192.168.50.1/24."))
    return value


def lease_range(server: str, prefix: int, text: str | None) -> tuple[str, str]:
    """The addresses OSCAR leases: --range FROM,TO, or by default the hundred addresses from
    .100 of a /24 (the middle of a smaller network); never its own address."""
    own = ipaddress.IPv4Interface(f"{server}/{prefix}")
    net = own.network
    if text is None:
        size = net.num_addresses
        first = net.network_address + (100 if size >= 256 else size // 2)
        last = min(first + 99, net.broadcast_address - 1)
    else:
        try:
            first_text, last_text = (part.strip() for part in text.split(","))
            first, last = ipaddress.IPv4Address(first_text), ipaddress.IPv4Address(last_text)
        except ValueError as exc:
            raise UsageError(_("'{text}' is not a range of addresses.").format(text=text),
                             _("Write it like 192.168.1.100,192.168.1.199.")) from exc
        if first not in net or last not in net or first > last:
            raise UsageError(_("The range {text} is not inside the network {net}.").format(
                text=text, net=net), _("Give two addresses of {net}, the lower first.").format(
                net=net))
    if first <= own.ip <= last:
        raise UsageError(_("The range {first}–{last} holds OSCAR's own address {own}.").format(
            first=first, last=last, own=own.ip), _("Give another --range."))
    return str(first), str(last)


def leasing_servers(offers: Sequence[Offer]) -> list[str]:
    return sorted({o.server for o in offers if o.leases})


def decide_mode(requested: str, offers: Sequence[Offer], *, consent: bool) -> str:
    """proxy, full or none. ``offers``: the answers to a DHCP discover on the interface;
    ``consent``: the technician agreed that OSCAR leases addresses itself. Two DHCP servers
    never run on one network: full is refused when another server leases, even if asked."""
    if requested not in DHCP_CHOICES:
        raise UsageError(_("Unknown DHCP mode '{mode}'.").format(mode=requested),
                         _("Choose one of: {choices}.").format(choices=", ".join(DHCP_CHOICES)))
    servers = leasing_servers(offers)
    if requested in ("proxy", "none", "pxe"):
        return requested
    if servers:
        if requested == "full":
            raise UsageError(
                _("A DHCP server already leases addresses on this network ({servers}): OSCAR "
                  "will not start a second one.").format(servers=", ".join(servers)),
                _("Use --dhcp proxy (or auto): that server keeps leasing, OSCAR adds the boot "
                  "files; for UEFI PCs, --dhcp pxe --range FROM,TO."))
        return "proxy"
    if requested == "full" or consent:
        return "full"
    raise UsageError(
        _("No DHCP server answered on this network, and OSCAR leases addresses only with your "
          "consent."),
        _("Start again with --dhcp full to let OSCAR lease addresses, or plug the PC into the "
          "school's network."))


def uefi_warning(mode: str) -> str | None:
    """Said before the room boots: in proxy mode, UEFI PCs stop at GRUB's prompt."""
    if mode != "proxy":
        return None
    return _("UEFI PCs cannot start in proxy mode: Debian's signed GRUB (the one Secure Boot "
             "accepts) asks the school's DHCP server for its menu, not OSCAR. BIOS PCs start. "
             "For UEFI PCs, start again with --dhcp pxe --range FROM,TO: OSCAR then leases "
             "addresses of that range (give addresses the school's server never leases) only "
             "to PCs that boot from the network.")


def live_options(server: str, http_port: int, lang: str) -> str:
    """The live system's kernel line over the network: live-boot fetches the squashfs by HTTP
    from OSCAR by address (its short form would ask the DHCP server, which may be the
    school's), and keeps it in memory (about 1 GB of RAM needed)."""
    from oscar.engine.grubcfg import KERNEL_OPTIONS

    words = ["boot=live", "components",
             f"fetch=http://{server}:{http_port}/live/filesystem.squashfs", KERNEL_OPTIONS]
    if lang == "en":
        words += ["oscar.lang=en", "locales=en_US.UTF-8", "keyboard-layouts=us"]
    return " ".join(words)
