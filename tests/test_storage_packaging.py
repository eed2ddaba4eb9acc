"""OSCAR installed as a package (`pip install .` into a fresh virtual environment, Debian's
python3 with its system packages, no source tree on the path) finds its menus, GRUB templates
and French catalogue: the menu starts in French, `oscar install --dry-run` renders the boot
menu. The live image installs the same package (bootimage/build.py, step_oscar)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LabDisks, make_lab, sh
from tests.tmux import Tmux

pytestmark = pytest.mark.storage


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with oscar pip-installed from a copy of the tree (git files only)."""
    root = tmp_path_factory.mktemp("pip")
    source = root / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "oscar", source / "oscar",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
    venv = root / "venv"
    sh("/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv))
    result = sh(str(venv / "bin/pip"), "install", "--quiet", "--no-deps", "--no-index",
                "--no-build-isolation", "--disable-pip-version-check", str(source), check=False,
                cwd=str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(source)  # nothing may be found through the copy it was built from
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSCAR_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("pip-lab"), gpt=False, clients=0) as made:
        yield made


def test_the_installed_package_is_used_not_the_source_tree(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run([str(installed / "bin/python"), "-c",
                            "import oscar.data as d; print(d.DATA_DIR)"],
                           capture_output=True, text=True, cwd=tmp_path, env=clean_env())
    assert where.returncode == 0, where.stderr
    data = Path(where.stdout.strip())
    assert data.is_relative_to(installed) and not data.is_relative_to(ROOT)
    for needed in ("menus/main.yaml", "grub/disk.cfg.j2", "grub/dnsmasq.conf.j2",
                   "templates/lighttpd.conf.j2", "templates/personalise/unattend.xml.j2",
                   "locale/fr/LC_MESSAGES/oscar.po"):
        assert (data / needed).is_file(), needed


def test_installed_oscar_install_dry_run_renders_the_boot_menu(installed: Path, lab: LabDisks,
                                                               tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    for name in ("vmlinuz", "initrd.img", "filesystem.squashfs"):
        (live / name).write_bytes(os.urandom(4096))
    before = sh("sfdisk", "-d", lab.model).stdout
    result = subprocess.run([str(installed / "bin/oscar"), "install", "--disk", lab.model,
                             "--image", str(live), "--no-password", "--dry-run"],
                            capture_output=True, text=True, cwd=tmp_path, env=clean_env(OSCAR_LANG="en",
                                                        OSCAR_CONFIG=str(tmp_path / "oscar.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OSCAR | restaure" in result.stdout, result.stdout
    assert sh("sfdisk", "-d", lab.model).stdout == before


def test_installed_oscar_tui_starts_in_french(installed: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "oscar.yaml").write_text("{}\n")
    env = {"OSCAR_CONFIG": str(tmp_path / "oscar.yaml"), "OSCAR_LANG": "fr", "TERM": "linux",
           "HOME": str(tmp_path)}
    tmux = Tmux(tmp_path, ["tui", "--store", str(store)], env,
                program=["env", "-u", "PYTHONPATH", "-C", str(tmp_path), str(installed / "bin/oscar")])
    try:
        screen = tmux.wait_for("Sauvegarde", timeout=30)
        assert "Restauration" in screen and "Outils" in screen and "F1 : aide" in screen
    finally:
        tmux.close()
