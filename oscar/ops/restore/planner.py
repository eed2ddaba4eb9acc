"""A restore's plan, pure: from the facts gathered about the backup and the disk (the model,
the manifest, the saved table, the free space for a shrinking image) to the list of steps.

Nothing here reads a device or a file: `plan_restore` can be checked in a unit test from a
saved machine description, and `Restorer` (restorer.py) gathers the facts, then executes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oscar.backups.manifest import Manifest, PartEntry
from oscar.core.errors import TargetRefused, UsageError
from oscar.core.i18n import _
from oscar.disks.devices import Disk, Partition, human_size, partition_path
from oscar.engine import fit, fsresize, ptable, scratch
from oscar.ops import plan as planning
from oscar.ops import safety
from oscar.ops.restore import retarget, shrinkscratch

FSARCHIVER_MARGIN = 1.1  # a file-level restore needs the data plus filesystem overhead


@dataclass
class RestoreOptions:
    name: str
    parts: list[int] | None = None
    with_table: bool = False
    format_only: bool = False  # format the partitions empty instead of restoring them
    # Other backup folders whose partitions are kept as they are (a deployment client's own
    # OSCAR partition, while the backup itself arrives from the network).
    keep_paths: list[str] = field(default_factory=list)
    # With the table, on a disk of another size: how the saved layout is fitted (fit.LAYOUTS),
    # and whether the OSCAR partition may change size too.
    layout: str = "proportional"
    resize_store: bool = False
    # a client of a deployment: its refusals are told to the person at the server, whose
    # choices are the room's PCs and the model, not restore's options
    deployment: bool = False


@dataclass
class RestoreFacts:
    """What a restore's plan is made of, gathered before it (the only I/O of planning)."""

    target: Disk
    man: Manifest
    opts: RestoreOptions
    saved_table: ptable.SfTable | None = None  # the saved table; needed with --with-table
    store_parts: frozenset[str] = frozenset()  # partitions holding backups: kept as they are
    from_folder: bool = True  # False: a deployment's stream (no image can be shrunk in a file)
    clonezilla_sums: list[str] | None = None  # a Clonezilla folder: its checksum files
    boot_menu: bool = False  # OSCAR's boot menu is installed on the disk
    # free bytes of the folders that may hold an image shrunk before it is copied, in order
    scratch_room: dict[Path, int] = field(default_factory=dict)


@dataclass
class RestorePlan:
    plan: planning.Plan
    entries: list[PartEntry]
    fitted: fit.Fitted | None = None
    resizes: retarget.Resizes = field(default_factory=retarget.Resizes)
    scratch_folder: Path | None = None

    @property
    def table(self) -> ptable.SfTable | None:
        return self.fitted.table if self.fitted is not None else None


def selected_entries(man: Manifest, parts: list[int] | None) -> list[PartEntry]:
    data = [p for p in man.partitions if p.role == "data"]
    if parts is None:
        return data
    by_number = {p.number: p for p in man.partitions}
    chosen = []
    for number in parts:
        entry = by_number.get(number)
        if entry is None or entry.role != "data":
            raise UsageError(_("The backup has no saved partition {n}.").format(n=number),
                             _("Saved partitions: {list}.").format(
                                 list=", ".join(str(p.number) for p in data)))
        chosen.append(entry)
    return chosen


def needed_size(entry: PartEntry) -> int:
    if entry.method == "fsarchiver":
        return int((entry.used or entry.size) * FSARCHIVER_MARGIN)
    return entry.size


def check_target(target: Disk, man: Manifest, entries: list[PartEntry], with_table: bool,
                 store_parts: set[str] | frozenset[str], table: ptable.SfTable | None,
                 format_only: bool = False) -> None:
    """Every reason to refuse the target, before anything is written (pure)."""
    safety.refuse_boot_medium(target)
    kept = [p for p in target.partitions if p.name in store_parts]
    retarget.check_sector_size(man, entries, target, format_only)
    if with_table:
        assert table is not None  # already fitted to the target (fit.fit refuses what cannot)
        ptable.check_keeps(table, [(p.number, p.start, p.size) for p in kept])
        safety.refuse_busy(target.partitions, _("Unmount it before rewriting the partition "
                                                "table."), spared=frozenset(store_parts))
        for entry in entries:
            if any(k.number == entry.number for k in kept):
                raise TargetRefused(
                    _("Partition {n} of {disk} holds the backups and cannot be "
                      "overwritten.").format(n=entry.number, disk=target.path),
                    _("Restore the other partitions only (--parts)."))
        return
    if not target.partitions:
        raise TargetRefused(_("{disk} has no partitions to restore into.").format(
            disk=target.path), _("Add --with-table to write the saved partition table first."))
    for entry in entries:
        found = target.partition(entry.number)
        if found is None:
            raise TargetRefused(_("{disk} has no partition {n}.").format(
                disk=target.path, n=entry.number),
                _("Add --with-table to write the saved partition table first."))
        check_partition(found, entry, store_parts)


def check_partition(part: Partition, entry: PartEntry, store_parts: set[str] | frozenset[str],
                    need: int | None = None) -> None:
    if part.name in store_parts:
        raise TargetRefused(_("Partition {dev} holds the backups and cannot be "
                              "overwritten.").format(dev=part.path),
                            _("Restore the other partitions only (--parts)."))
    safety.refuse_busy([part])
    need = needed_size(entry) if need is None else need
    if part.size < need:
        if entry.method in retarget.BLOCK:
            hint = _("It was saved block by block ({method}): restore with --with-table, which "
                     "shrinks it, or save it at file level (--method fsarchiver).").format(
                method=entry.method)
        else:
            hint = _("Restore with --with-table, or onto a bigger partition.")
        raise TargetRefused(
            _("Partition {dev} is too small: {have}, needs {need}.").format(
                dev=part.path, have=human_size(part.size), need=human_size(need)), hint)


def bitlocker_warnings(entries: list[PartEntry], format_only: bool) -> list[str]:
    """What becomes of the partitions that were BitLocker on the saved PC."""
    said = []
    for entry in [] if format_only else entries:
        if entry.bitlocker == "decrypted":
            said.append(_("partition {n} was encrypted with BitLocker and comes back "
                          "unencrypted (plain NTFS); Windows will encrypt it again by its own "
                          "policy").format(n=entry.number))
        elif entry.bitlocker == "encrypted":
            said.append(_("partition {n} comes back encrypted with BitLocker, sector for "
                          "sector: the TPM of the PC it was saved on unlocks it; any other PC "
                          "asks for its recovery key").format(n=entry.number))
    return said


def plan_restore(facts: RestoreFacts) -> RestorePlan:
    """The checks and the steps of a restore (pure). A client of a deployment gets its
    refusals with the hint for the person at the server."""
    opts = facts.opts
    entries = selected_entries(facts.man, opts.parts)
    made = RestorePlan(planning.Plan("", "", "", 0), entries)
    try:
        if opts.with_table:
            _fit(facts, made)
        check_target(facts.target, facts.man, entries, opts.with_table, facts.store_parts,
                     made.table, opts.format_only)
    except TargetRefused as exc:
        if not opts.deployment:
            raise
        raise TargetRefused(exc.message, _(
            "This PC cannot take this backup as it is: deploy it onto PCs whose disk fits, "
            "use the procedure formate (it fits the partitions to each disk), or make the "
            "model's partitions smaller and save it again.")) from exc
    made.plan = _Steps(facts, made).plan()
    return made


def _fit(facts: RestoreFacts, made: RestorePlan) -> None:
    """The saved table fitted to the target, and what each partition's filesystem needs."""
    t, opts = facts.target, facts.opts
    assert facts.saved_table is not None
    if opts.layout not in fit.LAYOUTS:
        raise UsageError(_("Unknown layout '{name}'.").format(name=opts.layout),
                         _("Choose one of: {choices}.").format(choices=", ".join(fit.LAYOUTS)))
    restored = set() if opts.format_only else {e.number for e in made.entries}
    needs = retarget.part_needs(facts.man, restored,
                                resize_store=opts.resize_store and not t.holds_store)
    if t.holds_store:
        needs = {}  # the OSCAR partition on this disk stays where it is: nothing moves
    made.fitted = fit.fit(facts.saved_table, source_bytes=facts.man.source.get("size"),
                          disk_bytes=t.size, sector=t.sector_size, needs=needs,
                          layout=opts.layout, keep_start=retarget.kept_starts(facts.man))
    if not opts.format_only:
        made.resizes = retarget.resizes(facts.man, made.entries, made.fitted, t.size,
                                        t.sector_size, scratch_ok=facts.from_folder)
    if made.resizes.scratch:
        made.scratch_folder = _scratch_folder(facts, made)


def _scratch_folder(facts: RestoreFacts, made: RestorePlan) -> Path:
    shrinking = [e for e in made.entries if e.number in made.resizes.scratch]
    data = shrinkscratch.data_bytes(shrinking)
    need = scratch.needed(data)
    folder = next((f for f, room in facts.scratch_room.items() if room >= need), None)
    if folder is None:
        raise TargetRefused(
            _("Partition {n} must be shrunk before it fits on this disk, in a file that "
              "needs {need} free; neither the backups' folder nor the memory has that "
              "much.").format(n=shrinking[0].number, need=human_size(need)),
            _("Free space beside the backups, shrink that partition on the model before "
              "saving, or save it at file level (--method fsarchiver)."))
    return folder


class _Steps:
    """The steps, in order, from the facts and what fitting decided."""

    def __init__(self, facts: RestoreFacts, made: RestorePlan) -> None:
        self.facts = facts
        self.opts = facts.opts
        self.man = facts.man
        self.target = facts.target
        self.made = made
        self.entries = made.entries
        self.fitted = made.fitted
        self.resizes = made.resizes

    def _table_step(self, table: ptable.SfTable, label: str) -> planning.Step:
        return planning.Step("write-table", label, writes=self.target.path,
                             params={"table": table})

    def _table_steps(self, plan: planning.Plan) -> None:
        """Partition table and restores, in the manifest's order (a deployment's stream): a
        block image that shrinks is restored into a temporary table where its partition has
        its saved size, shrunk, and the next table cuts the partition."""
        assert self.fitted is not None
        final = self.fitted.table
        label = final.label.upper()
        written: ptable.SfTable | None = None
        for entry in self.entries:
            if self.opts.format_only:
                break
            shrink_to = self.resizes.shrink.get(entry.number)
            if shrink_to is not None:
                stage = fit.with_size(final, entry.number, entry.size, drop_after=True)
                plan.steps.append(self._table_step(stage, _(
                    "Write the partition table ({label}) with partition {n} at its saved size "
                    "{size}").format(label=label, n=entry.number, size=human_size(entry.size))))
                written = stage
            elif written is not final:
                plan.steps.append(self._table_step(final, self._table_label(label)))
                written = final
            plan.steps.append(self._restore_step(entry))
            if shrink_to is not None:
                plan.steps.append(planning.Step(
                    "resize-fs", _("Shrink the filesystem of partition {n} to {size}").format(
                        n=entry.number, size=human_size(shrink_to)),
                    writes=self._part_path(entry.number),
                    params={"number": entry.number, "size": shrink_to}))
            elif entry.number in self.resizes.grow:
                plan.steps.append(self._grow_step(entry))
        if written is not final:
            plan.steps.append(self._table_step(final, self._table_label(label)))
        if self.opts.format_only:
            for entry in self.entries:
                plan.steps.append(self._format_step(entry))

    def _table_label(self, label: str) -> str:
        if self.fitted is not None and not self.fitted.same:
            return _("Write the partition table ({label}), fitted to this disk").format(
                label=label)
        return _("Write the saved partition table ({label})").format(label=label)

    def _restore_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "restore-part", _("Restore partition {n} ({fs}, {label}) from {method}").format(
                n=entry.number, fs=entry.fstype, label=entry.label or "-",
                method=entry.method), writes=self._part_path(entry.number),
            size=entry.used or entry.size, params={"number": entry.number})

    def _format_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "format-part", _("Format partition {n} ({fs}, {label}), empty").format(
                n=entry.number, fs=entry.fstype, label=entry.label or "-"),
            writes=self._part_path(entry.number), params={"number": entry.number})

    def _grow_step(self, entry: PartEntry) -> planning.Step:
        return planning.Step(
            "resize-fs", _("Grow the filesystem of partition {n} to fill it").format(
                n=entry.number), writes=self._part_path(entry.number),
            params={"number": entry.number, "size": None})

    def plan(self) -> planning.Plan:
        t = self.target
        plan = planning.Plan(_("Restore '{name}' onto {disk}").format(
            name=self.man.name, disk=t.path), t.identity, t.path, t.size)
        if self.facts.from_folder and self.facts.clonezilla_sums is not None:
            sums = self.facts.clonezilla_sums
            plan.steps.append(planning.Step("verify", _(
                "Verify the Clonezilla image with {files}").format(files=", ".join(sums)) if sums
                else _("Decode every image of the Clonezilla image (it has no checksum file)"),
                size=self.man.stored_bytes))
        elif self.facts.from_folder:
            plan.steps.append(planning.Step("verify", _("Verify every checksum of the backup"),
                                            size=self.man.stored_bytes))
        else:
            plan.steps.append(planning.Step("verify", _(
                "Check the partition table and the manifest received; every image is checked "
                "as it arrives")))
        for number, size in self.resizes.scratch.items():
            assert self.made.scratch_folder is not None
            plan.steps.append(planning.Step("shrink-scratch", _(
                "Restore partition {n} into a file in {folder} and shrink it to {size} (nothing "
                "is written to the disk yet)").format(n=number, folder=self.made.scratch_folder,
                                                      size=human_size(size)),
                params={"number": number, "size": size}))
        if self.fitted is not None and not self.fitted.same:
            labels = {e.number: f"({e.fstype or e.role}, {e.label or '-'})"
                      for e in self.man.partitions}
            plan.details += fit.describe(self.fitted, labels)
        if self.opts.with_table:
            self._table_steps(plan)
        else:
            for entry in self.entries:
                if self.opts.format_only:
                    plan.steps.append(self._format_step(entry))
                    continue
                plan.steps.append(self._restore_step(entry))
                part = t.partition(entry.number)
                if entry.method in retarget.BLOCK and fsresize.can_resize(entry.fstype) \
                        and part is not None and part.size > entry.size:
                    plan.steps.append(self._grow_step(entry))
        if self.opts.with_table:
            plan.steps += self._swap_and_store_steps()
        if self._windows_on_mbr():
            plan.steps.append(planning.Step("check-boot-config", _(
                "Check Windows' boot configuration (BCD) against the partitions")))
        if self.facts.boot_menu:
            plan.steps.append(planning.Step("boot-menu", _(
                "Write OSCAR's boot menu again, for the restored systems"), writes=t.path))
        plan.warnings += bitlocker_warnings(self.entries, self.opts.format_only)
        for entry in self.man.partitions:
            if entry.role == "store" and self.target.holds_store:
                plan.warnings.append(_("partition {n} holds the backups and is kept as it "
                                       "is").format(n=entry.number))
        return plan

    def _swap_and_store_steps(self) -> list[planning.Step]:
        """After a new table: the swap made again, and an OSCAR partition that is blank."""
        steps = []
        for entry in self.man.partitions:
            if entry.role == "swap":
                steps.append(planning.Step(
                    "make-swap", _("Recreate swap on partition {n}").format(n=entry.number),
                    writes=self._part_path(entry.number), params={"number": entry.number}))
            elif entry.role == "store" and not self.target.holds_store:
                steps.append(planning.Step(
                    "prepare-store", _("Format partition {n} as the OSCAR partition if it is "
                                       "blank").format(n=entry.number),
                    writes=self._part_path(entry.number), params={"number": entry.number}))
        return steps

    def _part_path(self, number: int) -> str:
        return partition_path(self.target.path, number)

    def _windows_on_mbr(self) -> bool:
        label = self.made.table.label if self.made.table is not None else self.target.pttype
        return (label == "dos" and not self.opts.format_only
                and any(e.fstype == "ntfs" for e in self.entries))
