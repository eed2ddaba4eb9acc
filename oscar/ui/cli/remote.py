"""`oscar export` and `oscar import`: a backup to or from an SSH server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from oscar.backups.store import Store
from oscar.core.errors import Aborted
from oscar.core.i18n import _
from oscar.core.progress import TerminalProgress
from oscar.ops import lab
from oscar.ui.cli import options

if TYPE_CHECKING:
    from oscar.net.ssh.transfer import SshOptions


T = TypeVar("T")


def ssh_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accept-host-key", metavar="SHA256:...",
                   help=_("trust a server seen for the first time, if its key has this "
                          "fingerprint"))
    p.add_argument("--identity", help=_("private key file (default: the agent, ~/.ssh)"))
    p.add_argument("--password-stdin", action="store_true",
                   help=_("read the password from the first line of stdin (never stored)"))
    p.add_argument("--known-hosts", help=_("pinned host keys (default: in the local backup "
                                           "folder)"))
    p.add_argument("--max-rate", help=_("speed limit, e.g. 20M (bytes per second)"))


def add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help=_("send a backup to an SSH server"))
    options.store(p)
    options.name(p)
    p.add_argument("--to", required=True, help="ssh://USER@HOST[:PORT]/PATH")
    ssh_options(p)
    p.set_defaults(func=cmd_export)


def add_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help=_("fetch a backup from an SSH server"))
    p.add_argument("--from", dest="source", required=True, help="ssh://USER@HOST[:PORT]/PATH")
    options.name(p)
    options.store(p)
    ssh_options(p)
    p.set_defaults(func=cmd_import)


def _ssh_options(args: argparse.Namespace) -> SshOptions:
    from oscar.net.ssh.transfer import SshOptions

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    return SshOptions(accept_host_key=args.accept_host_key,
                      identity=Path(args.identity) if args.identity else None,
                      password=password,
                      known_hosts=Path(args.known_hosts) if args.known_hosts else None,
                      max_rate=lab.parse_size(args.max_rate) if args.max_rate else None)


def _with_host_key_asked(opts: SshOptions, transfer: Callable[[], T]) -> T:
    """A server never seen: its fingerprint is shown; on a terminal the technician may accept
    it there (typed), otherwise --accept-host-key is needed. Never accepted silently."""
    from oscar.net.ssh.remote import HostKeyUnknown

    try:
        return transfer()
    except HostKeyUnknown as exc:
        if opts.accept_host_key is not None or not sys.stdin.isatty():
            raise
        print(exc.message)
        answer = input(_("Is this the server's key? Type 'oui' (yes) to trust it:") + " ")
        if answer.strip().lower() not in ("oui", "yes", "o", "y"):
            raise Aborted(_("Cancelled; nothing was sent.")) from exc
        opts.accept_host_key = exc.fingerprint
        return transfer()


def cmd_export(args: argparse.Namespace) -> int:
    from oscar.net.ssh.remote import parse_url
    from oscar.net.ssh.transfer import export

    remote = parse_url(args.to)
    opts = _ssh_options(args)
    folder = _with_host_key_asked(opts, lambda: export(Store(args.store), args.name, remote,
                                                        opts, TerminalProgress()))
    print(_("Backup '{name}' exported to {remote}:{folder} and checked there.").format(
        name=args.name, remote=remote.known_hosts_name, folder=folder))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from oscar.net.ssh.remote import parse_url
    from oscar.net.ssh.transfer import import_backup

    remote = parse_url(args.source)
    opts = _ssh_options(args)
    folder = _with_host_key_asked(opts, lambda: import_backup(remote, args.name,
                                                              Store(args.store), opts,
                                                              TerminalProgress()))
    print(_("Backup '{name}' imported into {folder} and verified.").format(name=args.name,
                                                                          folder=folder))
    return 0
