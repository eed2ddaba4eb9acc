#!/usr/bin/python3
"""Builds the OSCAR live system from Debian 12 packages: `make image` (or bootimage/build.py).

Outputs in bootimage/out/: oscar.iso (hybrid BIOS + UEFI, dd-able to a USB key), the
vmlinuz / initrd.img / filesystem.squashfs trio (the PC's OSCAR partition and PXE use it), and
packages.manifest (every package and version in the image).

The build is a flat list of small steps run in order, each logged; a failed step names itself
and the command that failed. The Debian base (debootstrap + apt, the slow part) is cached in
OSCAR_IMAGE_CACHE (default /var/cache/oscar-image), keyed by the package list: a rebuild after a
change to the oscar package reuses it and takes a few minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootimage import iso as isofile  # noqa: E402
from oscar.core import run  # noqa: E402
from oscar.core.errors import OscarError  # noqa: E402
from oscar.engine import grubcfg  # noqa: E402

log = logging.getLogger("oscar.image")
SUITE = "bookworm"
MIRROR = os.environ.get("OSCAR_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("OSCAR_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
BASE_FORMAT = "4"  # bump when the base recipe below changes
# non-free-firmware: the network cards' firmware real PCs need (Debian 12's own component).
COMPONENTS = "main,non-free-firmware"
COMPONENTS_LIST = COMPONENTS.replace(",", " ")
HERE = Path(__file__).resolve().parent


@dataclass
class Build:
    cache: Path
    out: Path
    fast: bool  # zstd -3 squashfs (test builds) instead of zstd -15
    password_hash: str | None = None
    work: Path = field(init=False)
    base: Path = field(init=False)
    rootfs: Path = field(init=False)
    staging: Path = field(init=False)

    def __post_init__(self) -> None:
        # One work folder per build process: two builds (a test and `make image`) never share one.
        self.work = self.cache / f"work-{os.getpid()}"
        self.rootfs = self.work / "rootfs"
        self.staging = self.work / "iso"


def packages() -> list[str]:
    lines = (HERE / "packages.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def base_key() -> str:
    text = "\n".join([BASE_FORMAT, SUITE, MIRROR, SECURITY, *packages()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    """/proc, /sys and /dev inside the chroot for the packages' scripts; always unmounted."""
    mounted: list[Path] = []
    try:
        for source, target, opts in (("proc", "proc", ["-t", "proc"]),
                                     ("sysfs", "sys", ["-t", "sysfs"]),
                                     ("/dev", "dev", ["--bind"]),
                                     ("devpts", "dev/pts", ["-t", "devpts"])):
            point = root / target
            point.mkdir(parents=True, exist_ok=True)
            run.run(["mount", *opts, source, str(point)])
            mounted.append(point)
        yield
    finally:
        for point in reversed(mounted):
            run.run(["umount", "-l", str(point)], check=False)


def in_chroot(root: Path, *argv: str, env: dict[str, str] | None = None) -> None:
    run.run(["chroot", str(root), "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
             "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C",
             *[f"{k}={v}" for k, v in (env or {}).items()], *argv])


# -- steps --------------------------------------------------------------------------------------
def step_base(b: Build) -> None:
    """Debian base with every package of packages.txt, security and point-release updates."""
    b.base = b.cache / f"base-{base_key()}"
    if (b.base / ".oscar-base-complete").exists():
        log.info("base %s cached", b.base.name)
        return
    tmp = b.cache / f"{b.base.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    b.cache.mkdir(parents=True, exist_ok=True)
    run.run(["debootstrap", "--variant=minbase", f"--components={COMPONENTS}",
             "--include=ca-certificates", SUITE, str(tmp), MIRROR])
    (tmp / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {SUITE} {COMPONENTS_LIST}\ndeb {MIRROR} {SUITE}-updates {COMPONENTS_LIST}\n"
        f"deb {SECURITY} {SUITE}-security {COMPONENTS_LIST}\n")
    # No service may start inside the build chroot.
    policy = tmp / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy("/etc/resolv.conf", tmp / "etc/resolv.conf")
    with chroot_mounts(tmp):
        in_chroot(tmp, "apt-get", "update", "-q")
        in_chroot(tmp, "apt-get", "-y", "-q", "dist-upgrade")
        in_chroot(tmp, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages())
        in_chroot(tmp, "apt-get", "clean")
    policy.unlink()
    (tmp / ".oscar-base-complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    shutil.rmtree(b.base, ignore_errors=True)
    tmp.rename(b.base)
    for old in b.cache.glob("base-*"):
        if old != b.base and not old.name.endswith(".partial"):
            log.info("removing old base %s", old.name)
            shutil.rmtree(old, ignore_errors=True)


# Xorg depends on Mesa's 3D drivers, which bring LLVM (about 160 MB, a third of the image):
# gparted needs no 3D, and Xorg without them draws in software (modesetting's shadow buffer).
# Removed from the image's copy only; the manifest lists what stays.
PRUNED = ("libgl1-mesa-dri", "libllvm15", "libz3-4")


def step_rootfs(b: Build) -> None:
    """A fresh copy of the base to configure (the base stays clean for the next build)."""
    for stale in b.cache.glob("work-*"):
        pid = stale.name.removeprefix("work-")
        if stale == b.work or not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            run.run(["rm", "-rf", "--one-file-system", str(stale)])
    b.work.mkdir(parents=True)
    run.run(["cp", "-a", "--reflink=auto", str(b.base), str(b.rootfs)])
    (b.rootfs / ".oscar-base-complete").unlink()


def step_configure(b: Build) -> None:
    """Name, language, keyboard, autologin into the OSCAR menu on tty1 and the serial console."""
    r = b.rootfs
    (r / "etc/hostname").write_text("oscar\n")
    (r / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 oscar\n")
    (r / "etc/locale.gen").write_text("fr_FR.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\n")
    (r / "etc/default/locale").write_text("LANG=fr_FR.UTF-8\n")
    (r / "etc/default/keyboard").write_text(
        'XKBMODEL="pc105"\nXKBLAYOUT="fr"\nXKBVARIANT="latin9"\nXKBOPTIONS=""\nBACKSPACE="guess"\n')
    (r / "etc/default/console-setup").write_text(
        'ACTIVE_CONSOLES="/dev/tty[1-6]"\nCHARMAP="UTF-8"\nCODESET="Lat15"\n'
        'FONTFACE="Fixed"\nFONTSIZE="8x16"\n')
    with chroot_mounts(r):
        in_chroot(r, "locale-gen")
    in_chroot(r, "dpkg", "--purge", "--force-depends", *PRUNED)
    for unit, line in (("getty@tty1.service", "-/sbin/agetty --autologin root --noclear %I $TERM"),
                       ("serial-getty@ttyS0.service",
                        "-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I vt220")):
        drop = r / "etc/systemd/system" / f"{unit}.d"
        drop.mkdir(parents=True, exist_ok=True)
        (drop / "oscar.conf").write_text(f"[Service]\nExecStart=\nExecStart={line}\n")
    shutil.copy(HERE / "oscar-start", r / "usr/local/sbin/oscar-start")
    (r / "usr/local/sbin/oscar-start").chmod(0o755)
    (r / "root/.bash_profile").write_text(
        "# The OSCAR menu on the console and on the serial line (see /usr/local/sbin/oscar-start)\n"
        'case "$(tty)" in /dev/tty1|/dev/ttyS0) exec /usr/local/sbin/oscar-start ;; esac\n')
    # The live medium holds the squashfs the running system is read from: it cannot be
    # unmounted at shutdown, and systemd printed "[FAILED] Failed unmounting run-live-medium"
    # on the teacher's screen at every restart. Outside the shutdown's unmounting, as / is.
    medium = r / "etc/systemd/system/run-live-medium.mount.d"
    medium.mkdir(parents=True, exist_ok=True)
    (medium / "oscar.conf").write_text("[Unit]\nDefaultDependencies=no\n")
    (r / "etc/initramfs-tools/conf.d/oscar").write_text("COMPRESS=zstd\n")
    # lighttpd is started by `oscar deploy send` with its own configuration, only while a
    # deployment runs: Debian's service (port 80 on every interface) must never start.
    (r / "etc/systemd/system/lighttpd.service").unlink(missing_ok=True)
    (r / "etc/systemd/system/lighttpd.service").symlink_to("/dev/null")


# What a live system that saves and restores disks never uses (about 200 MB uncompressed).
TRIMMED_MODULES = ("sound", "drivers/media", "drivers/net/wireless", "drivers/infiniband",
                   "drivers/iio", "drivers/staging")
KEPT_LOCALES = ("fr", "en", "locale.alias")


def step_trim(b: Build) -> None:
    """Documentation (the copyright files stay), manual pages, translations other than French
    and English, and kernel modules for sound, TV and webcams, wireless, InfiniBand and
    sensors: out of the image, which must stay under 400 MB."""
    r = b.rootfs
    for doc in (r / "usr/share/doc").rglob("*"):
        if doc.is_file() and doc.name != "copyright":
            doc.unlink()
    for folder in ("usr/share/man", "usr/share/info"):
        run.run(["rm", "-rf", "--one-file-system", str(r / folder)])
    for entry in (r / "usr/share/locale").iterdir():
        if not entry.name.startswith(KEPT_LOCALES):
            run.run(["rm", "-rf", "--one-file-system", str(entry)])
    for kernel in (r / "usr/lib/modules").iterdir():
        for sub in TRIMMED_MODULES:
            run.run(["rm", "-rf", "--one-file-system", str(kernel / "kernel" / sub)])
        in_chroot(r, "depmod", "-a", kernel.name)


def build_wheel(dest: Path) -> Path:
    """The oscar wheel, built from a copy of the package with its French catalogue compiled:
    the live image installs it as `pip install` would, menus and templates as package data."""
    source = dest / "source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "oscar", source / "oscar",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
    for po in (source / "oscar/data/locale").glob("*/LC_MESSAGES/*.po"):
        run.run(["msgfmt", "-c", "-o", str(po.with_suffix(".mo")), str(po)])
    for old in dest.glob("oscar-*.whl"):
        old.unlink()
    run.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
             "--no-build-isolation", "--disable-pip-version-check", "-w", str(dest), str(source)])
    shutil.rmtree(source)
    return next(dest.glob("oscar-*.whl"))


def step_oscar(b: Build) -> None:
    """The oscar package installed from its wheel (menus, GRUB templates and catalogues inside
    it) into Debian's python3 path, and the `oscar` command."""
    wheel = build_wheel(b.work / "wheel")
    site = b.rootfs / "usr/lib/python3/dist-packages"
    run.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--disable-pip-version-check", "--target", str(site), str(wheel)])
    # pip's own launcher names the build machine's interpreter; the image's is /usr/bin/python3.
    shutil.rmtree(site / "bin", ignore_errors=True)
    wrapper = b.rootfs / "usr/local/bin/oscar"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/python3 -m oscar "$@"\n')
    wrapper.chmod(0o755)
    in_chroot(b.rootfs, "/usr/bin/python3", "-m", "compileall", "-q",
              "/usr/lib/python3/dist-packages/oscar")


def step_initramfs(b: Build) -> None:
    """The initramfs with live-boot (finds the squashfs on a key/ISO, a partition or HTTP)."""
    with chroot_mounts(b.rootfs):
        in_chroot(b.rootfs, "update-initramfs", "-u", "-k", "all")


def step_manifest(b: Build) -> None:
    """Every package and version in the image, to reproduce and audit the build."""
    result = run.run(["chroot", str(b.rootfs), "dpkg-query", "-W",
                      "-f=${Package} ${Version} ${Architecture}\\n"])
    b.out.mkdir(parents=True, exist_ok=True)
    lines = sorted(result.stdout.decode().splitlines())
    (b.out / "packages.manifest").write_text(
        f"# OSCAR live system, Debian {SUITE}, base {base_key()}\n" + "\n".join(lines) + "\n")


def step_squashfs(b: Build) -> None:
    """The kernel, the initrd and the root filesystem as a squashfs."""
    live = b.staging / "live"
    live.mkdir(parents=True)
    kernel = max((b.rootfs / "boot").glob("vmlinuz-*"))
    initrd = max((b.rootfs / "boot").glob("initrd.img-*"))
    shutil.copy(kernel, live / "vmlinuz")
    shutil.copy(initrd, live / "initrd.img")
    for leftover in ("etc/resolv.conf",):
        (b.rootfs / leftover).unlink(missing_ok=True)
    # Release: zstd -15 (smallest that builds in minutes on 2 cores); test builds: zstd -3.
    level = "3" if b.fast else "15"
    comp = ["-comp", "zstd", "-Xcompression-level", level, "-b", "1M"]
    run.run(["mksquashfs", str(b.rootfs), str(live / "filesystem.squashfs"), "-noappend",
             "-quiet", "-no-progress", *comp, "-e", "boot", "-wildcards",
             "-e", "var/cache/apt/*", "-e", "var/lib/apt/lists/*"])


def step_iso(b: Build) -> None:
    """The hybrid ISO (BIOS and UEFI with Secure Boot, dd-able to a USB key) with the checked
    GRUB menu; its boot files come from the live system's own packages."""
    grub = b.staging / "boot/grub"
    grub.mkdir(parents=True)
    text = grubcfg.render_live(password_hash=b.password_hash)
    grubcfg.check(text)
    (grub / "grub.cfg").write_text(text)
    b.out.mkdir(parents=True, exist_ok=True)
    image = b.out / "oscar.iso"
    isofile.build(b.staging, image, isofile.Loaders.under(b.rootfs))
    for name in ("vmlinuz", "initrd.img", "filesystem.squashfs"):
        shutil.copy(b.staging / "live" / name, b.out / name)
    log.info("image: %s (%d MB)", image, image.stat().st_size // 1_000_000)
    run.run(["rm", "-rf", "--one-file-system", str(b.work)])


STEPS: list[Callable[[Build], None]] = [step_base, step_rootfs, step_configure, step_trim, step_oscar,
                                        step_initramfs, step_manifest, step_squashfs, step_iso]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the OSCAR live system.")
    parser.add_argument("--fast", action="store_true", help="zstd -3 squashfs (test builds)")
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--cache", default=os.environ.get("OSCAR_IMAGE_CACHE",
                                                           "/var/cache/oscar-image"))
    parser.add_argument("--password-hash-file",
                        help="a file holding the GRUB PBKDF2 hash protecting OSCAR and restaure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    password = (Path(args.password_hash_file).read_text().strip()
                if args.password_hash_file else None)
    build = Build(Path(args.cache), Path(args.out), args.fast, password)
    for step in STEPS:
        began = time.monotonic()
        log.info("step %s: %s", step.__name__, (step.__doc__ or "").strip().splitlines()[0]
                 if step.__doc__ else "")
        try:
            step(build)
        except OscarError as exc:
            log.error("step %s failed: %s", step.__name__, exc.message)
            tail = getattr(exc, "stderr_tail", "")
            if tail:
                log.error("%s", tail)
            return 1
        log.info("step %s done in %.0f s", step.__name__, time.monotonic() - began)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
