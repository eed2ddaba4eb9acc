"""What the network boot is doing, in words, for the CLI and the menu alike (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass

from oscar.core.i18n import _
from oscar.net.pxe.settings import PxeSettings, uefi_warning


@dataclass
class Running:
    settings: PxeSettings
    since: str
    leases: list[tuple[str, str, str]]  # (MAC, address, name)
    nfs_server: bool  # the kernel could export over NFS


def lines(running: Running | None) -> list[str]:
    if running is None:
        return [_("The network boot is not running.")]
    s = running.settings
    modes = {"proxy": _("proxy DHCP (the school's server leases the addresses)"),
             "full": _("DHCP, leasing {first}–{last}").format(first=s.range_from,
                                                              last=s.range_to),
             "pxe": _("DHCP for network-booting PCs only, leasing {first}–{last}; the school's "
                      "server leases the others").format(first=s.range_from, last=s.range_to),
             "none": _("no DHCP (TFTP and HTTP only)")}
    found = [
        _("Network boot running on {interface} ({server}) since {since}.").format(
            interface=s.interface, server=s.server, since=running.since),
        _("DHCP: {mode}").format(mode=modes[s.mode]),
        _("TFTP: {server}; HTTP: http://{server}:{port}/").format(server=s.server,
                                                                 port=s.http_port),
        _("NFS: not offered; the live system and the backups are served over HTTP.")
        if running.nfs_server else
        _("NFS: not offered (this kernel has no NFS server); the live system and the "
          "backups are served over HTTP."),
        _("Boot menu: the local disk after {seconds} s; {protected}.").format(
            seconds=s.timeout, protected=_("OSCAR entries protected by the password")
            if s.password_hash else _("no password set")),
    ]
    warning = uefi_warning(s.mode)
    if warning:
        found.append(warning)
    for mac, address, name in running.leases:
        found.append(_("Leased: {address} to {mac} ({name})").format(address=address, mac=mac,
                                                                     name=name))
    return found
