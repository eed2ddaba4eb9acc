"""`oscar deploy send|receive`, `oscar personalise` and `oscar clients`: a backup onto a room,
and each PC made its own (OSCAR_déploie)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from oscar.backups.store import Store
from oscar.core.errors import UsageError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import TerminalProgress
from oscar.disks import probe
from oscar.ui.cli import options
from oscar.ui.cli.ask import confirm
from oscar.ui.cli.options import bounded_int


def add_deploy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("deploy", help=_("deploy a backup onto a room (déploiement)"))
    deploysub = p.add_subparsers(dest="deploy_verb", required=True)
    d = deploysub.add_parser("send", help=_("the server: send a backup to the clients"))
    d.add_argument("--procedure", required=True,
                   help=_("restaure, simple, formate, complète, petite, table or disque"))
    options.store(d)
    options.name(d)
    options.disk(d, required=False, help=_("disque: the disk of this PC to copy"))
    d.add_argument("--mode", default="multicast", choices=("multicast", "unicast"),
                   help=_("multicast (synchronous) or unicast (asynchronous, HTTP)"))
    d.add_argument("--clients", type=bounded_int(1, 1000), default=1,
                   help=_("number of clients"))
    d.add_argument("--max-wait", type=bounded_int(1, 86400), default=300,
                   help=_("seconds to wait for the clients"))
    options.interface(d)
    d.add_argument("--max-bitrate", help=_("multicast speed limit, e.g. 500m (leave room on "
                                           "the school's network)"))
    d.add_argument("--then", default="none", choices=("none", "reboot", "poweroff"),
                   help=_("what the clients do when done"))
    options.layout(d)
    d.add_argument("--clients-file", help=_("OSCAR_déploie: each client takes its name, "
                                             "address, key and domain from this file"))
    options.yes(d)
    d.set_defaults(func=cmd_deploy_send)
    d = deploysub.add_parser("receive", help=_("a client: receive a deployment"))
    options.interface(d)
    options.disk(d, required=False, help=_("the disk that receives (default: the only disk)"))
    d.add_argument("--server", help=_("the server's address (default: listen for it)"))
    d.add_argument("--listen", type=bounded_int(1, 86400), default=600,
                   help=_("seconds to wait for a server"))
    d.add_argument("--no-catch-up", action="store_true",
                   help=_("do not fetch by HTTP after a failed multicast"))
    d.set_defaults(func=cmd_deploy_receive)


def cmd_deploy_send(args: argparse.Namespace) -> int:
    from oscar.core.errors import DeployIncomplete
    from oscar.net.deploy import procedures
    from oscar.net.deploy.sender import Sender, SendOptions

    store = Store(args.store)
    store.check_exists()
    proc = procedures.get(args.procedure)
    if proc.whole_disk:
        _save_whole_disk(args, store)
    sender = Sender(SendOptions(args.store, args.name, proc.name, args.mode, args.clients,
                                args.max_wait, args.interface, args.then,
                                max_bitrate=args.max_bitrate, clients_file=args.clients_file,
                                layout=args.layout))
    print(_("Checking the backup before sending it..."), flush=True)
    sender.check_backup(TerminalProgress())
    print(_("Deployment '{name}' ({procedure}, {mode}) on {interface} ({address}): "
            "start the clients now.").format(name=args.name, procedure=args.procedure,
                                             mode=args.mode, interface=sender.iface.name,
                                             address=sender.address), flush=True)
    shown: list[str] = []

    def on_update(phase: str, table: str) -> None:
        if sys.stdout.isatty():
            print("\x1b[H\x1b[2J" + table, flush=True)
            return
        # a log file or a pipe: only the lines that changed (states), not every percent
        lines = [line for line in table.splitlines()]
        key = "\n".join(line[:44] for line in lines)
        if not shown or shown[-1] != key:
            shown.append(key)
            print(table, flush=True)

    report = sender.run(on_update)
    print(report.to_markdown())
    for path in sender.report_paths:
        print(_("Report: {path}").format(path=path))
    if report.succeeded < args.clients:
        refused = sum(1 for c in report.clients if c.state == "refused")
        retry = args.clients - report.succeeded - refused
        hints = []
        if retry > 0:
            hints.append(_("Start the failed or missing clients again: they catch up by "
                           "unicast."))
        if refused:
            hints.append(_("The PCs that refused cannot take this backup as it is (the report "
                           "says why): deploy onto PCs that fit, or use the procedure formate."))
        raise DeployIncomplete(
            _("Clients that received the backup: {done} of {wanted}; refused: {refused}.").format(
                done=report.succeeded, wanted=args.clients, refused=refused), " ".join(hints))
    return 0


def _save_whole_disk(args: argparse.Namespace, store: Store) -> None:
    """disque: the server's whole disk is saved first (every partition), then sent."""
    from oscar.ops.save import SaveOptions, Saver

    if not args.disk:
        raise UsageError(_("The procedure disque copies a disk of this PC: give --disk."),
                         _("See 'oscar probe' for the disks."))
    disk = probe.resolve_disk(args.disk, store_paths=[args.store])
    saver = Saver(disk, store, SaveOptions(args.name), TerminalProgress())
    print(saver.plan.render())
    if (store.root / args.name).exists():
        confirm(saver.plan, args.yes, _("Replace it? Type 'oui' (yes) to continue:"))
    saver.run()


def cmd_deploy_receive(args: argparse.Namespace) -> int:
    from oscar.net.deploy.receiver import ReceiveOptions, Receiver, restart

    receiver = Receiver(ReceiveOptions(args.interface, args.disk, args.server, args.listen,
                                       not args.no_catch_up), TerminalProgress())
    print(_("Client {mac} ({address}), disk {disk}: waiting for the server.").format(
        mac=receiver.iface.mac, address=receiver.iface.address, disk=receiver.target.path),
        flush=True)
    then = receiver.run()
    print(_("Deployment received, verified and written ({mode}).").format(mode=receiver.mode))
    restart(then)
    return 0


def add_personalise(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("personalise", help=_("make a cloned PC its own: name, address, "
                                             "licence key, domain or workgroup (OSCAR_déploie)"))
    options.disk(p, help=_("the PC's disk (path or identity)"))
    p.add_argument("--clients", required=True, help=_("the room's clients file (YAML or CSV)"))
    p.add_argument("--mac", help=_("the line to apply (default: this PC's network card)"))
    p.add_argument("--check", action="store_true",
                   help=_("only check the clients file, write nothing"))
    options.yes(p)
    p.set_defaults(func=cmd_personalise)


def _own_mac() -> str:
    from oscar.engine import netinfo

    found = netinfo.interfaces()
    mac = netinfo.own_mac(found)
    if mac is None:
        raise UsageError(_("Cannot tell which network card is this PC's ({count} found).").format(
            count=len([i for i in found if i.name != "lo" and i.mac])), _("Give --mac."))
    return mac


def cmd_personalise(args: argparse.Namespace) -> int:
    from oscar.ops.personalise import clients as clients_file
    from oscar.ops.personalise.apply import Personaliser

    room = clients_file.load(Path(args.clients))
    for warning in room.warnings:
        print(_("warning: {text}").format(text=warning), file=sys.stderr)
    if args.check:
        print(ngettext("{path}: {n} client, no problem.", "{path}: {n} clients, no problem.",
                       len(room.clients)).format(path=args.clients, n=len(room.clients)))
        return 0
    mac = args.mac or _own_mac()
    client = room.require(mac, _("Add this PC's line, or give another --mac."))
    disk = probe.resolve_disk(args.disk)
    personaliser = Personaliser(disk, client, TerminalProgress())
    personaliser.plan.warnings += room.warnings
    confirm(personaliser.plan, args.yes,
            _("These systems will be changed. Type 'oui' (yes) to continue:"))
    result = personaliser.run()
    for number, changes in sorted(result.changes.items()):
        for change in changes:
            print(_("partition {n}: {change}").format(n=number, change=change))
    for number, why in sorted(result.skipped.items()):
        print(_("partition {n}: left alone ({why})").format(n=number, why=why))
    print(_("{disk} is now {name}.").format(disk=disk.path, name=client.hostname))
    return 0


def add_clients(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("clients", help=_("the clients files of OSCAR_déploie"))
    clientsub = p.add_subparsers(dest="clients_verb", required=True)
    d = clientsub.add_parser("template", help=_("a clients file with the MACs a deployment saw"))
    d.add_argument("--report", required=True, help=_("the deployment's JSON report"))
    d.add_argument("--output", help=_("where to write it (default: standard output)"))
    d.set_defaults(func=cmd_clients_template)


def cmd_clients_template(args: argparse.Namespace) -> int:
    from oscar.ops.personalise import clients as clients_file

    try:
        report = json.loads(Path(args.report).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(_("The report {path} cannot be read: {why}").format(
            path=args.report, why=exc), _("Give the JSON report of a deployment "
                                          "(NAME/logs/deploy-*.json).")) from exc
    text = clients_file.template_from_report(report if isinstance(report, dict) else {})
    if args.output is None:
        print(text, end="")
        return 0
    output = Path(args.output)
    if output.exists():
        raise UsageError(_("{path} already exists.").format(path=output),
                         _("Give another --output; OSCAR does not overwrite a clients file."))
    output.write_text(text, encoding="utf-8")
    print(_("Clients file written: {path} (edit the names and addresses).").format(path=output))
    return 0
