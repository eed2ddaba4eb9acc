"""Plans: every destructive operation is first a list of typed steps that can be printed
(--dry-run), confirmed, then executed by a table of handlers.

Right before a step writes, the executor finds the target disk again by identity (never by
sdX name) and re-checks it (ops/safety.py: same size, not the boot medium); then the
operation's own check looks at what this step writes (not in use, not the backups' partition,
big enough...) and names the device it writes now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oscar.core.i18n import _
from oscar.disks.devices import Disk, human_size
from oscar.ops import safety

log = logging.getLogger("oscar.plan")


@dataclass
class Step:
    action: str  # key in the executor's handler table
    label: str  # what the person reads
    writes: str | None = None  # the device this step writes (None: reads only)
    size: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    title: str
    disk_identity: str
    disk_path: str
    disk_size: int
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # e.g. the new layout, shown before the steps

    def render(self) -> str:
        lines = [self.title,
                 _("Disk: {path}  identity {identity}  size {size}").format(
                     path=self.disk_path, identity=self.disk_identity,
                     size=human_size(self.disk_size)), *self.details]
        for number, step in enumerate(self.steps, 1):
            size = f" ({human_size(step.size)})" if step.size else ""
            mark = _(" [writes {dev}]").format(dev=step.writes) if step.writes else ""
            lines.append(f"  {number}. {step.label}{size}{mark}")
        lines += [_("Warning: {text}").format(text=w) for w in self.warnings]
        return "\n".join(lines)


Handler = Callable[[Step], None]
Check = Callable[[Step, Disk], None]  # the operation's own checks; sets step.writes


def execute(plan: Plan, handlers: dict[str, Handler], check: Check | None,
            on_step: Callable[[int, int, str], None] | None = None, *,
            store_paths: list[str] | None = None) -> None:
    """Run the steps in order. Before each step that writes: the disk found again and
    re-checked (safety.found_again), then ``check``; a plan that writes needs one."""
    for number, step in enumerate(plan.steps, 1):
        log.info("step %d/%d: %s (%s)", number, len(plan.steps), step.action, step.label)
        if on_step is not None:
            on_step(number, len(plan.steps), step.label)
        if step.writes:
            if check is None:
                raise AssertionError(f"step {step.action} writes, and its plan has no check")
            disk = safety.found_again(plan.disk_identity, plan.disk_size, plan.disk_path,
                                      store_paths)
            check(step, disk)
        handlers[step.action](step)
