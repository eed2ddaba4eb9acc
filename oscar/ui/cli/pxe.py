"""`oscar pxe start|stop|status`: the room's network boot (serveur PXE)."""

from __future__ import annotations

import argparse
from pathlib import Path

from oscar.core.i18n import _
from oscar.ui.cli import options
from oscar.ui.cli.ask import ask_yes_no
from oscar.ui.cli.options import bounded_int


def add_pxe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pxe", help=_("network boot of the room (serveur PXE)"))
    pxesub = p.add_subparsers(dest="pxe_verb", required=True)
    d = pxesub.add_parser("start", help=_("start DHCP or proxy DHCP, TFTP and HTTP"))
    d.add_argument("--interface", required=True, help=_("network interface of the room"))
    d.add_argument("--dhcp", default="auto",
                   choices=("auto", "proxy", "pxe", "full", "none"),
                   help=_("auto: proxy DHCP beside the school's server, else ask before "
                          "leasing; pxe: lease --range only to PCs booting from the network "
                          "(UEFI PCs beside the school's server); full: lease addresses "
                          "(consent); none: TFTP and HTTP only"))
    d.add_argument("--range", help=_("addresses leased in full or pxe mode: FROM,TO"))
    d.add_argument("--address", help=_("address for an interface that has none, e.g. "
                                       "192.168.50.1/24 (removed at stop)"))
    options.store(d, required=False, help=_("backup folder also served over HTTP"))
    d.add_argument("--live-dir", help=_("folder of the live system (default: found)"))
    d.add_argument("--timeout", type=bounded_int(0, 3600), default=10,
                   help=_("seconds of the boot menu before the local disk boots"))
    d.set_defaults(func=cmd_pxe_start)
    d = pxesub.add_parser("stop", help=_("stop the network boot; leaves nothing behind"))
    d.set_defaults(func=cmd_pxe_stop)
    d = pxesub.add_parser("status", help=_("is the network boot running, and for whom"))
    d.set_defaults(func=cmd_pxe_status)
    d = pxesub.add_parser("serve", help=argparse.SUPPRESS)  # the supervisor, started by start
    d.add_argument("--state-dir", required=True)
    d.set_defaults(func=cmd_pxe_serve)


def cmd_pxe_start(args: argparse.Namespace) -> int:
    from oscar.net.pxe import service

    if args.dhcp != "none":
        print(_("Looking for a DHCP server on {name}...").format(name=args.interface), flush=True)
    prepared = service.prepare(service.StartOptions(
        args.interface, args.dhcp, args.range, args.address, args.store, args.live_dir,
        args.timeout), ask_yes_no)
    for offer in prepared.offers:
        if offer.leases:
            print(_("DHCP server {server} answered (it offered {address}).").format(
                server=offer.server, address=offer.address))
        else:
            print(_("A proxy DHCP server answered: {server}. Two network boot servers on one "
                    "network confuse the PCs.").format(server=offer.server))
    if prepared.settings.mode == "proxy" and not any(o.leases for o in prepared.offers):
        print(_("No DHCP server answered: the PCs get no address until the school's server "
                "does."))
    service.launch(prepared.settings)
    print("\n".join(service.summary_lines()))
    return 0


def cmd_pxe_stop(args: argparse.Namespace) -> int:
    from oscar.net.pxe import service

    if service.stop():
        print(_("Network boot stopped: its servers, address and files are gone."))
    else:
        print(_("The network boot is not running."))
    return 0


def cmd_pxe_status(args: argparse.Namespace) -> int:
    from oscar.net.pxe import service

    print("\n".join(service.summary_lines()))
    return 0 if service.status().running else 1


def cmd_pxe_serve(args: argparse.Namespace) -> int:
    from oscar.net.pxe import service

    return service.serve(Path(args.state_dir))
