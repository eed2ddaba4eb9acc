"""The command line: verbs mirror the menu items. Errors become one line, a hint and an exit code."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from oscar import __version__
from oscar.backups.store import Store, check_name
from oscar.core import oplog
from oscar.core.errors import Aborted, Exit, OscarError, UsageError
from oscar.core.i18n import _
from oscar.core.progress import TerminalProgress
from oscar.disks import probe
from oscar.disks.devices import Disk, human_size
from oscar.ops import lab
from oscar.ops.plan import Plan

if TYPE_CHECKING:
    from oscar.net.ssh.transfer import SshOptions
    from oscar.ops.bootinstall import InstallOptions

T = TypeVar("T")

log = logging.getLogger("oscar.cli")


def setup_logging(verbose: bool) -> None:
    root = logging.getLogger("oscar")
    root.setLevel(logging.DEBUG)
    handler = oplog.open_main_log()
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(ConsoleFormatter("%(name)s: %(message)s"))
    root.addHandler(console)


class ConsoleFormatter(logging.Formatter):
    """The screen gets the message; a traceback goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info = bare.exc_text = bare.stack_info = None
        return super().format(bare)


def parse_parts(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        numbers = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise UsageError(_("'{text}' is not a list of partition numbers.").format(text=text),
                         _("Write them like --parts 1,2.")) from exc
    if not numbers or any(n <= 0 for n in numbers):
        raise UsageError(_("'{text}' is not a list of partition numbers.").format(text=text),
                         _("Write them like --parts 1,2."))
    return numbers


def confirm(plan: Plan, assume_yes: bool, question: str, typed: str | None = None) -> None:
    """Show the plan, then ask. ``typed``: the word (the disk's name) that must be typed,
    for what erases a whole disk; otherwise yes/oui."""
    print(plan.render())
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise Aborted(_("Confirmation needed, and there is no terminal to ask."),
                      _("Add --yes to confirm on the command line."))
    answer = input(question + " ").strip()
    if answer != typed if typed is not None else answer.lower() not in ("oui", "yes", "o", "y"):
        raise Aborted(_("Cancelled; nothing was written."))


def cmd_probe(args: argparse.Namespace) -> int:
    stores = [args.store] if args.store else []
    if args.store:
        Store(args.store).check_exists()
    disks = probe.probe_all(store_paths=stores)
    if args.json:
        print(json.dumps([d.to_dict() for d in disks], indent=2, ensure_ascii=False))
        return 0
    for disk in disks:
        print(render_disk(disk))
    return 0


def render_disk(disk: Disk) -> str:
    marks = []
    if disk.holds_store:
        marks.append(_("holds the backups"))
    if disk.is_boot_medium:
        marks.append(_("boot medium"))
    oscar_parts = [p.number for p in disk.partitions if p.label == "OSCAR"]
    if oscar_parts:
        marks.append(_("OSCAR partition {n}").format(n=oscar_parts[0]))
    head = (f"{disk.path}  {human_size(disk.size)}  {disk.table_label}  {disk.identity}"
            f"  {disk.model or ''}".rstrip())
    if marks:
        head += "  [" + ", ".join(marks) + "]"
    lines = [head]
    used = _("used")
    for p in disk.partitions:
        flags = " " + _("(mounted)") if p.in_use else ""
        lines.append(f"  {p.number:>2} {p.path:<16} {p.fstype or '-':<7} {p.label or '-':<12} "
                     f"{human_size(p.size):>9}  {used} {human_size(p.used):>9}{flags}")
    return "\n".join(lines)


def cmd_save(args: argparse.Namespace) -> int:
    from oscar.engine import compress
    from oscar.ops.save import SaveOptions, Saver

    store = Store(args.store)
    store.check_writable()
    check_name(args.name)
    compress.check(args.compress)
    compress.check_level(args.compress, args.level)
    disk = probe.resolve_disk(args.disk, store_paths=[args.store])
    opts = SaveOptions(args.name, parse_parts(args.parts), args.method, args.compress, args.level)
    saver = Saver(disk, store, opts, TerminalProgress())
    if args.dry_run:
        print(saver.plan.render())
        return 0
    if (store.root / args.name).exists():
        saver.plan.warnings.append(_("the backup '{name}' exists and will be replaced once the "
                                     "new one is complete").format(name=args.name))
        confirm(saver.plan, args.yes, _("Replace it? Type 'oui' (yes) to continue:"))
    else:
        print(saver.plan.render())
    folder = saver.run()
    print(_("Backup complete and verified: {folder}").format(folder=folder))
    return 0


def state_label(state: str) -> str:
    labels = {"complete": _("complete"), "incomplete": _("incomplete (not usable)"),
              "clonezilla": _("Clonezilla image"), "damaged": _("damaged")}
    return labels.get(state, state)


def cmd_list(args: argparse.Namespace) -> int:
    store = Store(args.store)
    entries = store.entries(include_incomplete=args.all)
    if args.json:
        print(json.dumps([{"name": e.name, "state": e.state, "usable": e.usable,
                           "created": e.manifest.created if e.manifest else None,
                           "source": e.manifest.source.get("identity") if e.manifest else None,
                           "partitions": [p.number for p in e.manifest.imaged] if e.manifest else [],
                           "size": e.manifest.stored_bytes if e.manifest else None}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print(_("No backup in {root}.").format(root=store.root))
        return 0
    entries.sort(key=lambda e: e.manifest.created if e.manifest else "", reverse=True)
    for e in entries:
        if e.manifest:
            m = e.manifest
            parts = ",".join(f"{p.number}:{p.fstype}/{p.method}" for p in m.imaged
                             if p.role == "data")
            print(f"{e.name:<24} {m.created[:16]:<16} {m.source.get('identity', '?')}  "
                  f"[{parts}]  {human_size(m.stored_bytes)}  {state_label(e.state)}")
        else:
            print(f"{e.name:<24} {'':<16} {state_label(e.state)} {e.problem}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from oscar.ops.verify import verify

    folder = Path(args.backup)
    if not folder.is_dir():
        raise UsageError(_("No backup at {path}.").format(path=folder),
                         _("Give the backup's folder: STORE/NAME ('oscar list STORE')."))
    report = verify(folder, TerminalProgress(), deep=not args.quick)
    name = report.manifest.name
    if report.clonezilla:
        print(_("Clonezilla image {name}: checked with {files}.").format(
            name=name, files=", ".join(report.sum_files) if report.sum_files else _(
                "the images' own checksums (the folder has no checksum file)")))
    if not report.not_decoded:
        print(_("Backup {name} verified: every checksum matches and every image decodes.").format(
            name=name))
    else:
        print(_("Backup {name} verified: every checksum matches.").format(name=name))
        for file, why in sorted(report.not_decoded.items()):
            print(_("  {file}: not decoded ({why})").format(file=file, why=why))
    return 0


def layout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layout", default="proportional", choices=("proportional", "grow-last", "keep"),
        help=_("on a disk of another size: scale every partition (proportional), give the "
               "difference to the last data partition (grow-last), or keep the saved sizes"))


def cmd_restore(args: argparse.Namespace) -> int:
    from oscar.ops.restore.restorer import RestoreOptions, Restorer

    store = Store(args.store)
    store.check_exists()
    store.get(args.name)
    disk = probe.resolve_disk(args.disk, store_paths=[args.store])
    opts = RestoreOptions(args.name, parse_parts(args.parts), args.with_table,
                          layout=args.layout, resize_store=args.resize_oscar)
    restorer = Restorer(disk, store, opts, TerminalProgress())
    if args.dry_run:
        print(restorer.plan.render())
        return 0
    confirm(restorer.plan, args.yes,
            _("Everything on these partitions will be replaced. Type 'oui' (yes) to continue:"))
    log_path = restorer.run()
    print(_("Restore of '{name}' onto {disk} complete.").format(name=args.name, disk=disk.path))
    print(_("Log: {path}").format(path=log_path))
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if args.lab_cmd == "create":
        lab.create(root, clients=args.clients, gpt=args.gpt, size=lab.parse_size(args.size),
                   client_size=lab.parse_size(args.client_size) if args.client_size else None,
                   data_mb=args.data_mb)
        print(_("Lab created in {root}; attach it with 'oscar lab attach {root}'.").format(
            root=root))
    elif args.lab_cmd == "attach":
        state = lab.attach(root)
        print(f"model: {state.model}")
        for image in state.images[1:]:
            print(f"{image.removesuffix('.img')}: {state.devices.get(image)}")
    elif args.lab_cmd == "detach":
        lab.detach(root)
    elif args.lab_cmd == "destroy":
        lab.destroy(root)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from oscar.ops.prepare import PrepareOptions, Preparer, default_label

    disk = probe.resolve_disk(args.disk)
    label = "gpt" if args.gpt else "dos" if args.mbr else default_label(disk)
    preparer = Preparer(disk, PrepareOptions(args.layout, label), TerminalProgress())
    if args.dry_run:
        print(preparer.plan.render())
        return 0
    confirm(preparer.plan, args.yes,
            _("Everything on this disk will be erased. Type 'oui' (yes) to continue:"))
    preparer.run()
    print(_("{disk} is ready: install the systems, then save them with OSCAR.").format(
        disk=disk.path))
    return 0


def cmd_usbdisk(args: argparse.Namespace) -> int:
    from oscar.backups import usbstore
    from oscar.core import config as configuration

    if args.usb_verb == "init":
        from oscar.ops.usbdisk import UsbDiskInit, UsbDiskOptions, describe

        disk = probe.resolve_disk(args.disk)
        opts = UsbDiskOptions(allow_small=args.allow_small,
                              label="gpt" if args.gpt else "dos" if args.mbr else None,
                              image_dir=Path(args.image) if args.image else None,
                              password_hash=configuration.load().password_hash,
                              no_password=args.no_password)
        init = UsbDiskInit(disk, opts, TerminalProgress())
        if args.dry_run:
            print(init.plan.render())
            return 0
        confirm(init.plan, args.yes, _(
            "Everything on {description} will be erased. Type the disk's name ({name}) to "
            "continue:").format(description=describe(disk), name=disk.name), typed=disk.name)
        init.run()
        print(_("{disk} is an OSCAR USB disk: it starts OSCAR on BIOS and UEFI PCs; save onto "
                "OSCAR-SAVE, keep the school's backups on OSCAR-ECOLE.").format(disk=disk.path))
        return 0
    disks = probe.probe_all(with_usage=False)
    stores = usbstore.require(disks, probe.resolve_disk(args.disk).path if args.disk else None)
    for store in stores:
        if args.usb_verb == "mount":
            print(f"{store.label} ({store.part.path}): {usbstore.mount(store)}")
        elif usbstore.unmount(store):
            print(_("{label} ({dev}) unmounted.").format(label=store.label, dev=store.part.path))
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    from oscar.backups.copy import copy_backup

    folder = copy_backup(Store(args.source), args.name, Store(args.to), TerminalProgress(),
                         new_name=args.as_name)
    print(_("Backup '{name}' copied to {folder} and verified.").format(name=args.name,
                                                                      folder=folder))
    return 0


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


def _install_options(args: argparse.Namespace, *, repair: bool) -> InstallOptions:
    from oscar.core import config as configuration
    from oscar.ops.bootinstall import InstallOptions

    return InstallOptions(
        image_dir=Path(args.image) if args.image else None, default=args.default,
        timeout=args.timeout, backup=args.backup, lang=args.lang,
        password_hash=configuration.load().password_hash, no_password=args.no_password,
        repair=repair)


def _run_install(disk: Disk, args: argparse.Namespace, *, repair: bool) -> int:
    from oscar.ops.bootinstall import Installer

    installer = Installer(disk, _install_options(args, repair=repair), TerminalProgress())
    try:
        if args.dry_run:
            print(installer.plan.render())
            print()
            print(installer.menu)
            return 0
        confirm(installer.plan, args.yes, _("Type 'oui' (yes) to continue:"))
        entries = installer.run()
    finally:
        installer.close()
    print(_("Boot menu of {disk}: {entries}.").format(disk=disk.path,
                                                      entries=" | ".join(entries)))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    return _run_install(probe.resolve_disk(args.disk), args, repair=False)


def cmd_grub(args: argparse.Namespace) -> int:
    from oscar.ops.bootinstall import installed_on

    if args.disk:
        disk = probe.resolve_disk(args.disk)
    else:
        found = [d for d in probe.probe_all(with_usage=False)
                 if not d.is_boot_medium and installed_on(d) is not None]
        if len(found) != 1:
            raise UsageError(_("{n} disks carry OSCAR's boot menu; which one?").format(
                n=len(found)), _("Name it with --disk (see 'oscar probe')."))
        disk = probe.resolve_disk(found[0].path)
    return _run_install(disk, args, repair=True)


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


def ask_yes_no(question: str) -> bool:
    """A yes/no question on the terminal; no terminal means no."""
    if not sys.stdin.isatty():
        return False
    answer = input(question + " " + _("[y/N] ")).strip().lower()
    return answer in ("y", "yes", "o", "oui")


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
        print(_("{path}: {n} clients, no problem.").format(path=args.clients,
                                                          n=len(room.clients)))
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


def cmd_tui(args: argparse.Namespace) -> int:
    from oscar.ui.tui.main import main as tui_main

    return tui_main(restaure=args.restaure, store=args.store)


def cmd_password(args: argparse.Namespace) -> int:
    from oscar.core import config as configuration

    current = configuration.load()
    if args.remove:
        current.password_hash = None
        where = configuration.save(current)
        print(_("Password removed from {path}.").format(path=where))
        return 0
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError(_("No terminal to type the password on."),
                             _("Use --stdin to read it from standard input."))
        password = getpass.getpass(_("New password: "))
        if getpass.getpass(_("Again: ")) != password:
            raise UsageError(_("The two passwords differ."), _("Type the same password twice."))
    if len(password) < 4:
        raise UsageError(_("The password is too short."), _("Use at least 4 characters."))
    current.password_hash = configuration.hash_password(password)
    where = configuration.save(current)
    print(_("Password set in {path} (only its PBKDF2 hash is stored).").format(path=where))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oscar", description=_(
        "OSCAR: save, restore and deploy the PCs of a school."))
    parser.add_argument("--version", action="version", version=f"oscar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_("show the log"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("probe", help=_("list the disks and their partitions"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--store", help=_("backup folder, to mark the disk that holds it"))
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("save", help=_("save a disk (sauvegarde)"))
    p.add_argument("--disk", required=True, help=_("path or identity from 'oscar probe'"))
    p.add_argument("--store", required=True, help=_("backup folder"))
    p.add_argument("--name", required=True, help=_("backup name"))
    p.add_argument("--parts", help=_("partition numbers, e.g. 1,2"))
    p.add_argument("--method", default="auto",
                   choices=("auto", "fsarchiver", "ntfsclone", "partclone", "raw"))
    p.add_argument("--compress", default="zstd", choices=("zstd", "gzip", "none"))
    p.add_argument("--level", type=bounded_int(1, 19),
                   help=_("compression level (zstd 1-19, gzip 1-9)"))
    p.add_argument("--dry-run", action="store_true", help=_("print the plan, change nothing"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.set_defaults(func=cmd_save)

    p = sub.add_parser("list", help=_("list the backups of a folder"))
    p.add_argument("store")
    p.add_argument("--all", action="store_true", help=_("also show incomplete backups"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verify", help=_("check a backup's checksums and images"))
    p.add_argument("backup", help=_("the backup's folder, STORE/NAME"))
    p.add_argument("--quick", action="store_true", help=_("checksums and headers only"))
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("restore", help=_("restore a backup (restauration)"))
    p.add_argument("--disk", required=True, help=_("path or identity from 'oscar probe'"))
    p.add_argument("--store", required=True, help=_("backup folder"))
    p.add_argument("--name", required=True, help=_("backup name"))
    p.add_argument("--parts", help=_("partition numbers, e.g. 1,2"))
    p.add_argument("--with-table", action="store_true",
                   help=_("write the saved partition table first"))
    layout_option(p)
    p.add_argument("--resize-oscar", action="store_true",
                   help=_("with --with-table on another disk: let the OSCAR partition change "
                          "size too"))
    p.add_argument("--dry-run", action="store_true", help=_("print the plan, change nothing"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("prepare", help=_("lay out a disk for OSCAR: Windows, Linux or dual boot"))
    p.add_argument("--disk", required=True, help=_("path or identity from 'oscar probe'"))
    p.add_argument("--layout", required=True, choices=("windows", "linux", "dualboot"))
    table = p.add_mutually_exclusive_group()
    table.add_argument("--gpt", action="store_true", help=_("GPT table (UEFI PCs)"))
    table.add_argument("--mbr", action="store_true", help=_("MBR table (BIOS PCs)"))
    p.add_argument("--dry-run", action="store_true", help=_("print the plan, change nothing"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.set_defaults(func=cmd_prepare)

    def boot_menu_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--default", help=_("entry started after the timeout: an id shown by "
                                           "--dry-run (windows-1, linux-2...) or 'first'"))
        # checked by the installer, with its hint (0 to 600)
        p.add_argument("--timeout", type=int, help=_("seconds before the default entry starts"))
        p.add_argument("--backup", help=_("backup restaure uses (default: the newest of the "
                                          "PC; '' to go back to that)"))
        p.add_argument("--lang", choices=("fr", "en"), help=_("language of OSCAR and restaure"))
        p.add_argument("--image", help=_("folder holding the live system (vmlinuz, initrd.img, "
                                         "filesystem.squashfs)"))
        p.add_argument("--no-password", action="store_true",
                       help=_("leave OSCAR and restaure unprotected"))
        p.add_argument("--dry-run", action="store_true",
                       help=_("print the plan and the menu, change nothing"))
        p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))

    p = sub.add_parser("install", help=_("install OSCAR and its boot menu on a PC's disk"))
    p.add_argument("--disk", required=True, help=_("path or identity from 'oscar probe'"))
    boot_menu_options(p)
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("grub", help=_("the boot menu of a PC's disk"))
    p.add_argument("--repair", action="store_true", required=True,
                   help=_("write the menu and the boot code again (a system was added, a "
                          "backup changed, Windows overwrote the boot code)"))
    p.add_argument("--disk", help=_("path or identity from 'oscar probe' (default: the disk "
                                    "that has OSCAR's boot menu)"))
    boot_menu_options(p)
    p.set_defaults(func=cmd_grub)

    p = sub.add_parser("usbdisk", help=_("an external USB disk for OSCAR (disque_usb)"))
    usbsub = p.add_subparsers(dest="usb_verb", required=True)
    d = usbsub.add_parser("init", help=_("lay out a disk: OSCAR boot, OSCAR-SAVE (ext4, half), "
                                         "OSCAR-ECOLE (NTFS, the rest)"))
    d.add_argument("--disk", required=True, help=_("path or identity from 'oscar probe'"))
    d.add_argument("--allow-small", action="store_true",
                   help=_("accept a disk under 500 GB"))
    table = d.add_mutually_exclusive_group()
    table.add_argument("--gpt", action="store_true", help=_("GPT table (default over 2 TiB)"))
    table.add_argument("--mbr", action="store_true", help=_("MBR table (default up to 2 TiB)"))
    d.add_argument("--image", help=_("folder holding the live system (vmlinuz, initrd.img, "
                                     "filesystem.squashfs)"))
    d.add_argument("--no-password", action="store_true",
                   help=_("leave OSCAR and restaure unprotected"))
    d.add_argument("--dry-run", action="store_true", help=_("print the plan, change nothing"))
    d.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    d.set_defaults(func=cmd_usbdisk)
    for verb, text in (("mount", _("mount the backup partitions; print their folders")),
                       ("umount", _("unmount the backup partitions"))):
        d = usbsub.add_parser(verb, help=text)
        d.add_argument("--disk", help=_("the USB disk (default: every OSCAR USB disk)"))
        d.set_defaults(func=cmd_usbdisk)

    p = sub.add_parser("copy", help=_("copy a backup to another backup folder, verified"))
    p.add_argument("--from", dest="source", required=True, help=_("backup folder it is in"))
    p.add_argument("--name", required=True, help=_("backup name"))
    p.add_argument("--to", required=True, help=_("backup folder it goes to"))
    p.add_argument("--as", dest="as_name", help=_("another name there"))
    p.set_defaults(func=cmd_copy)

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

    p = sub.add_parser("export", help=_("send a backup to an SSH server"))
    p.add_argument("--store", required=True, help=_("backup folder"))
    p.add_argument("--name", required=True, help=_("backup name"))
    p.add_argument("--to", required=True, help="ssh://USER@HOST[:PORT]/PATH")
    ssh_options(p)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help=_("fetch a backup from an SSH server"))
    p.add_argument("--from", dest="source", required=True, help="ssh://USER@HOST[:PORT]/PATH")
    p.add_argument("--name", required=True, help=_("backup name"))
    p.add_argument("--store", required=True, help=_("backup folder"))
    ssh_options(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("deploy", help=_("deploy a backup onto a room (déploiement)"))
    deploysub = p.add_subparsers(dest="deploy_verb", required=True)
    d = deploysub.add_parser("send", help=_("the server: send a backup to the clients"))
    d.add_argument("--procedure", required=True,
                   help=_("restaure, simple, formate, complète, petite, table or disque"))
    d.add_argument("--store", required=True, help=_("backup folder"))
    d.add_argument("--name", required=True, help=_("backup name"))
    d.add_argument("--disk", help=_("disque: the disk of this PC to copy"))
    d.add_argument("--mode", default="multicast", choices=("multicast", "unicast"),
                   help=_("multicast (synchronous) or unicast (asynchronous, HTTP)"))
    d.add_argument("--clients", type=bounded_int(1, 1000), default=1,
                   help=_("number of clients"))
    d.add_argument("--max-wait", type=bounded_int(1, 86400), default=300,
                   help=_("seconds to wait for the clients"))
    d.add_argument("--interface", help=_("network interface (default: the only one up)"))
    d.add_argument("--max-bitrate", help=_("multicast speed limit, e.g. 500m (leave room on "
                                           "the school's network)"))
    d.add_argument("--then", default="none", choices=("none", "reboot", "poweroff"),
                   help=_("what the clients do when done"))
    layout_option(d)
    d.add_argument("--clients-file", help=_("OSCAR_déploie: each client takes its name, "
                                             "address, key and domain from this file"))
    d.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    d.set_defaults(func=cmd_deploy_send)
    d = deploysub.add_parser("receive", help=_("a client: receive a deployment"))
    d.add_argument("--interface", help=_("network interface (default: the only one up)"))
    d.add_argument("--disk", help=_("the disk that receives (default: the only disk)"))
    d.add_argument("--server", help=_("the server's address (default: listen for it)"))
    d.add_argument("--listen", type=bounded_int(1, 86400), default=600,
                   help=_("seconds to wait for a server"))
    d.add_argument("--no-catch-up", action="store_true",
                   help=_("do not fetch by HTTP after a failed multicast"))
    d.set_defaults(func=cmd_deploy_receive)

    p = sub.add_parser("pxe", help=_("network boot of the room (serveur PXE)"))
    pxesub = p.add_subparsers(dest="pxe_verb", required=True)
    d = pxesub.add_parser("start", help=_("start DHCP or proxy DHCP, TFTP and HTTP"))
    d.add_argument("--interface", required=True, help=_("network interface of the room"))
    d.add_argument("--dhcp", default="auto", choices=("auto", "proxy", "full", "none"),
                   help=_("auto: proxy DHCP beside the school's server, else ask before "
                          "leasing; full: lease addresses (consent); none: TFTP and HTTP only"))
    d.add_argument("--range", help=_("addresses leased in full mode: FROM,TO"))
    d.add_argument("--address", help=_("address for an interface that has none, e.g. "
                                       "192.168.50.1/24 (removed at stop)"))
    d.add_argument("--store", help=_("backup folder also served over HTTP"))
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

    p = sub.add_parser("personalise", help=_("make a cloned PC its own: name, address, "
                                             "licence key, domain or workgroup (OSCAR_déploie)"))
    p.add_argument("--disk", required=True, help=_("the PC's disk (path or identity)"))
    p.add_argument("--clients", required=True, help=_("the room's clients file (YAML or CSV)"))
    p.add_argument("--mac", help=_("the line to apply (default: this PC's network card)"))
    p.add_argument("--check", action="store_true",
                   help=_("only check the clients file, write nothing"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.set_defaults(func=cmd_personalise)

    p = sub.add_parser("clients", help=_("the clients files of OSCAR_déploie"))
    clientsub = p.add_subparsers(dest="clients_verb", required=True)
    d = clientsub.add_parser("template", help=_("a clients file with the MACs a deployment saw"))
    d.add_argument("--report", required=True, help=_("the deployment's JSON report"))
    d.add_argument("--output", help=_("where to write it (default: standard output)"))
    d.set_defaults(func=cmd_clients_template)

    p = sub.add_parser("tui", help=_("the OSCAR menu"))
    p.add_argument("--restaure", action="store_true",
                   help=_("restore this PC's newest backup, then reboot (for everyone)"))
    p.add_argument("--store", help=_("backup folder (default: the PC's OSCAR partition)"))
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("password", help=_("set the password of the menu and the boot entries"))
    p.add_argument("--stdin", action="store_true", help=_("read the password from standard input"))
    p.add_argument("--remove", action="store_true", help=_("remove the password"))
    p.set_defaults(func=cmd_password)

    p = sub.add_parser("lab", help=_("the virtual classroom of loop-device disks"))
    labsub = p.add_subparsers(dest="lab_cmd", required=True)
    c = labsub.add_parser("create")
    c.add_argument("dir")
    c.add_argument("--clients", type=bounded_int(0, 64), default=2)
    c.add_argument("--gpt", action="store_true")
    c.add_argument("--size", default="3G")
    c.add_argument("--client-size")
    c.add_argument("--data-mb", type=bounded_int(1, 100000), default=300)
    for name in ("attach", "detach", "destroy"):
        labsub.add_parser(name).add_argument("dir")
    p.set_defaults(func=cmd_lab)
    return parser


INTERNAL_ERROR = Exit.INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    log.info("oscar %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except OscarError as exc:
        print(_("oscar: error: {message}").format(message=exc.message), file=sys.stderr)
        if exc.hint:
            print(_("hint: {hint}").format(hint=exc.hint), file=sys.stderr)
        log.info("error: %s (%s)", exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("Interrupted."), file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the person gets one line; the log keeps the rest
        log.error("internal error", exc_info=exc)
        print(_("oscar: internal error ({kind}), see {log}").format(
            kind=type(exc).__name__, log=oplog.main_log()), file=sys.stderr)
        print(_("hint: {hint}").format(hint=_(
            "This is a defect of OSCAR: keep the log and report it.")), file=sys.stderr)
        return INTERNAL_ERROR


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused with the range otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            value = low - 1
        if not low <= value <= high or text.strip() != text:
            raise argparse.ArgumentTypeError(
                _("'{text}' is not a whole number from {low} to {high}").format(
                    text=text.strip(), low=low, high=high))
        return value

    return parse
