"""make demo: lab → save → virus → restore → every file checked, printed as a short table."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oscar.disks.devices import partition_path  # noqa: E402
from oscar.engine.mount import mounted  # noqa: E402
from oscar.ops import lab  # noqa: E402

DATA_MB = int(os.environ.get("OSCAR_DEMO_DATA_MB", "300"))


def step(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def oscar(*args: str) -> None:
    print("$ oscar " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "oscar", *args], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))


def virus(model: str) -> list[str]:
    """Deletes and alters files on both systems and wipes the boot code, like a nasty virus."""
    done = []
    with mounted(partition_path(model, 1), "ntfs") as win:
        docs = sorted((win / "Users/Professeur/Documents").iterdir())
        for victim in docs[:5]:
            victim.unlink()
            done.append("deleted  C:\\" + str(victim.relative_to(win)).replace("/", "\\"))
        for victim in docs[5:8]:
            victim.write_bytes(b"VOS FICHIERS SONT CHIFFRES - payez 1 bitcoin\n")
            done.append("altered  C:\\" + str(victim.relative_to(win)).replace("/", "\\"))
        (win / "Windows/System32/config/SYSTEM").write_bytes(b"\0" * 8192)
        done.append("zeroed   C:\\Windows\\System32\\config\\SYSTEM")
    with mounted(partition_path(model, 2), "ext4") as lin:
        (lin / "etc/hostname").write_text("pirate\n")
        done.append("altered  /etc/hostname")
        for victim in sorted((lin / "home/eleve/Documents").iterdir())[:3]:
            victim.unlink()
            done.append(f"deleted  /{victim.relative_to(lin)}")
    with open(model, "r+b") as disk:
        disk.write(b"\0" * 512)
    done.append("zeroed   the boot sector (MBR)")
    return done


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="oscar-demo-"))
    store = workdir / "OSCAR"
    store.mkdir()
    step(f"Building a lab PC in {workdir} (Windows + Linux + swap + OSCAR partition, "
         f"{DATA_MB} MB of files)")
    oscar("lab", "create", str(workdir / "lab"), "--clients", "0", "--size", "3G",
          "--data-mb", str(DATA_MB))
    state = lab.attach(workdir / "lab")
    model = state.model
    assert model
    subprocess.run(["mount", partition_path(model, 4), str(store)], check=True)
    try:
        oscar("probe", "--store", str(store))
        before = {n: snapshot(model, n) for n in (1, 2)}
        step("Sauvegarde: saving the PC onto its own OSCAR partition")
        oscar("save", "--disk", model, "--store", str(store), "--name", "demo", "--yes")
        oscar("list", str(store))
        step("A virus strikes")
        for line in virus(model):
            print("  " + line)
        step("Restauration: the PC restores itself from its OSCAR partition")
        oscar("restore", "--disk", model, "--store", str(store), "--name", "demo",
              "--with-table", "--yes")
        step("Checking every file against the original")
        after = {n: snapshot(model, n) for n in (1, 2)}
        ok = report(before, after)
        with open(model, "rb") as disk:
            mbr_ok = disk.read(512)[510:] == b"\x55\xaa"
        print(f"  boot sector signature restored: {'yes' if mbr_ok else 'NO'}")
        return 0 if ok and mbr_ok else 1
    finally:
        subprocess.run(["umount", str(store)], check=False)
        lab.destroy(workdir / "lab")
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def snapshot(model: str, number: int) -> dict[str, tuple[object, ...]]:
    with mounted(partition_path(model, number), "ntfs" if number == 1 else "ext4",
                 readonly=True) as point:
        return lab.snapshot(point)


def report(before: dict[int, dict[str, tuple[object, ...]]],
           after: dict[int, dict[str, tuple[object, ...]]]) -> bool:
    print(f"  {'partition':<20} {'files':>7} {'identical':>10} {'different':>10} {'missing':>8}")
    ok = True
    for number, name in ((1, "1 Windows (NTFS)"), (2, "2 Linux (ext4)")):
        b, a = before[number], after[number]
        files = [k for k, v in b.items() if v[0] is not None]
        same = sum(1 for k in files if a.get(k) == b[k])
        missing = sum(1 for k in files if k not in a)
        different = len(files) - same - missing
        ok = ok and different == 0 and missing == 0 and a == b
        print(f"  {name:<20} {len(files):>7} {same:>10} {different:>10} {missing:>8}")
    print("  RESULT: " + ("every file is back, byte for byte, with its metadata" if ok
                          else "MISMATCH"))
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
