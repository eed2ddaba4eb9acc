"""`oscar lab create|attach|detach|destroy`: the virtual classroom of loop-device disks
(demo, tests, bench)."""

from __future__ import annotations

import argparse
from pathlib import Path

from oscar.core.i18n import _
from oscar.ops import lab
from oscar.ui.cli.options import bounded_int


def add_lab(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
