"""The menu's flows with the real engine on lab disks (headless app: keys in, text out)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urwid
import yaml

from oscar.backups.store import Store
from oscar.core import config, i18n
from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from oscar.ui.tui import widgets
from oscar.ui.tui.app import App
from oscar.ui.tui.flows.restaure import RestaureFlow
from oscar.ui.tui.main import build
from tests.conftest import ROOT, LabDisks, fs_clean, hash_device, make_lab, oscar, sh, snapshot_partition
from tests.tmux import Tmux

pytestmark = pytest.mark.storage


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("tui-lab"), gpt=False, clients=1) as disks:
        yield disks


@pytest.fixture(autouse=True)
def french(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("OSCAR_LANG", "fr")
    # Each test is one "PC": restaure's session lock lives as long as its flow object.
    monkeypatch.setenv("OSCAR_LOCK_DIR", str(tmp_path / "locks"))
    i18n.reset()
    yield
    i18n.reset()


def rows(app: App) -> list[urwid.Widget]:
    return list(app.current.widget.body)


def choose(app: App, label: str) -> None:
    """Move the focus to the row or button labelled ``label`` with the arrow keys, then Enter."""
    widget = app.current.widget
    labels = [_label(w) for w in widget.body]
    assert any(label == lab or (lab and lab.startswith(label)) for lab in labels), (label, labels)
    for _step in range(len(labels) + 2):
        current = _label(widget.focus)
        if current == label or (current and current.startswith(label)):
            app.press("enter")
            return
        app.press("down")
    raise AssertionError(f"{label} not reachable with the arrows: {labels}")


def press_button(app: App, label: str) -> None:
    """In the focused row of buttons, move right to ``label`` with the arrows, then Enter."""
    app.screen_text()  # drawn once, as a terminal would before any key: the focus is set
    row = getattr(app.current.widget.focus, "original_widget", app.current.widget.focus)
    assert isinstance(row, urwid.GridFlow), row
    names = [str(cell.original_widget.label) for cell, _options in row.contents]
    assert label in names, (label, names)
    for _step in range(len(names)):
        if names[row.focus_position] == label:
            app.press("enter")
            return
        app.press("right")
    raise AssertionError(f"{label} not reachable: {names}")


def _label(widget: urwid.Widget) -> str:
    inner = getattr(widget, "original_widget", widget)
    if isinstance(inner, urwid.GridFlow):
        return str(inner.contents[0][0].original_widget.label)
    return str(getattr(inner, "label", getattr(widget, "label", "")))


def set_name(app: App, name: str) -> None:
    for widget in app.current.widget.body:
        inner = getattr(widget, "original_widget", widget)
        if isinstance(inner, urwid.Edit):
            inner.set_edit_text(name)
            return
    raise AssertionError("no name field")


def save_through_menu(app: App, lab: LabDisks, name: str) -> None:
    app.press("s")  # Sauvegarde
    assert ">  Sauvegarde" in app.screen_text()
    app.press("enter")
    choose(app, Path(lab.model).name)
    text = app.screen_text()
    assert "[X] 1  ntfs" in text and "[X] 2  ext4" in text and "OSCAR" not in text.split("\n", 3)[3]
    choose(app, "Continuer")
    text = app.screen_text()
    assert "(X) auto" in text and "(X) zstd" in text
    assert "Nom de la sauvegarde : " in text and "-PC-MODELE" in text  # the computer's name
    set_name(app, name)
    choose(app, "Continuer")
    text = app.screen_text()
    assert "Lancer la sauvegarde ?" in text and "ntfsclone" in text and "partclone" in text
    choose(app, "Confirmer")
    assert isinstance(app.current.widget, widgets.ProgressView)


def test_save_then_restore_through_the_menu(lab: LabDisks) -> None:
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    original = snapshot_partition(lab.part(lab.model, 1), "ntfs")
    save_through_menu(app, lab, "menu-base")
    app.wait_task()
    text = app.screen_text()
    assert "Sauvegarde complète et vérifiée" in text, text
    assert oscar("verify", "--quick", str(lab.store / "menu-base")).returncode == 0
    choose(app, "OK")

    # A "virus": files deleted and changed, boot sector zeroed.
    sh("dd", "if=/dev/zero", f"of={lab.part(lab.model, 1)}", "bs=512", "count=1", "conv=notrunc")
    app.press("r")
    app.press("enter")
    choose(app, "menu-base")
    text = app.screen_text()
    assert "(sauvegardée depuis ce disque)" in text
    choose(app, Path(lab.model).name)
    text = app.screen_text()
    assert "[X] 1  ntfs" in text and "[ ] Écrire aussi la table" in text
    choose(app, "Continuer")
    assert "Tout le contenu de ces partitions sera remplacé." in app.screen_text()
    choose(app, "Confirmer")
    app.wait_task()
    text = app.screen_text()
    assert "terminée" in text and "logs/restore-" in text, text
    assert snapshot_partition(lab.part(lab.model, 1), "ntfs") == original


def test_cancelled_save_leaves_nothing_and_keeps_the_menu(lab: LabDisks) -> None:
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    save_through_menu(app, lab, "menu-cancelled")
    time.sleep(0.3)  # the save is running (it takes seconds: partclone alone lasts >= 1 s)
    app.press("esc")
    question = app.screen_text()
    assert "Arrêter la sauvegarde ?" in question and "Continuer" in question
    app.press("enter")  # the focused button is the safe one: the save goes on
    assert isinstance(app.current.widget, widgets.ProgressView) and app.task is not None
    app.press("esc")
    press_button(app, "Arrêter la sauvegarde")
    app.wait_task()
    text = app.screen_text()
    assert "Annulé par l'utilisateur" in text, text
    names = {e.name for e in Store(lab.store).entries(include_incomplete=True)}
    assert "menu-cancelled" not in names
    assert not list(lab.store.glob(".oscar-*"))
    choose(app, "OK")
    assert ">  Sauvegarde" in app.screen_text()  # the menu is usable after the error


def ensure_backup(lab: LabDisks) -> None:
    """restaure needs one backup of this PC (when a test runs alone)."""
    if not any(e.usable for e in Store(lab.store).entries()):
        assert oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name",
                     "menu-base", "--yes").returncode == 0


def _restaure_app(tmp_path: Path, countdown: int = 3) -> tuple[App, RestaureFlow, Path]:
    marker = tmp_path / "rebooted"
    app = App(config.Config(reboot_command=["touch", str(marker)], restaure_countdown=countdown),
              headless=True)
    flow = build(app, restaure=True, store=None)
    assert isinstance(flow, RestaureFlow)
    return app, flow, marker


def test_restaure_counts_down_restores_and_reboots(lab: LabDisks, tmp_path: Path) -> None:
    ensure_backup(lab)
    original = snapshot_partition(lab.part(lab.model, 2), "ext4")
    sh("dd", "if=/dev/urandom", f"of={lab.part(lab.model, 2)}", "bs=1M", "count=2", "seek=1",
       "conv=notrunc")
    app, flow, marker = _restaure_app(tmp_path)
    text = app.screen_text()
    # The newest backup of this PC's own OSCAR partition, found without being told where.
    assert "Ce PC va être remis dans l'état" in text and "La restauration commence dans 3" in text
    # A teacher's words: a date in words, a duration, what comes back; no device, no tool.
    words = " ".join(text.split())  # lines joined, non-breaking spaces as spaces
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d+ \w+ \d{4} à "
                     r"\d+ h \d\d", words), text
    assert "Temps nécessaire : environ" in text or "moins d'une minute" in text, text
    assert "Windows" in text and "Linux" in text, text
    for word in ("/dev/", "ntfsclone", "partclone", "sommes de contrôle", "ext4", "ntfs"):
        assert word not in text, word
    assert "██" in text  # the countdown in big digits
    flow.tick()
    assert "commence dans 2" in app.screen_text()
    flow.tick()
    flow.tick()
    assert isinstance(app.current.widget, widgets.ProgressView)
    app.wait_task()
    assert "Le PC a été restauré. Il redémarre dans 5 secondes." in app.screen_text()
    assert snapshot_partition(lab.part(lab.model, 2), "ext4") == original
    flow.tick_restart()  # the announced delay counts down
    assert "Il redémarre dans 4 secondes." in app.screen_text()
    assert not marker.exists()
    app.press("enter")
    assert marker.exists()


def test_restaure_countdown_cancelled_by_any_key(lab: LabDisks, tmp_path: Path) -> None:
    ensure_backup(lab)
    before = hash_device(lab.part(lab.model, 2))
    app, flow, marker = _restaure_app(tmp_path, countdown=10)
    app.press("x")
    text = app.screen_text()
    assert "La restauration a été arrêtée. Rien n'a été modifié." in text
    assert "Restaurer maintenant" in text and "Redémarrer sans restaurer" in text
    assert "/dev/" not in text and "F1 : aide" in text and "Échap" not in text
    flow.tick()  # the countdown is over for good
    assert "arrêtée" in app.screen_text()
    app.press("enter")  # a second Enter (as the one that stopped it) restarts, never restores
    assert marker.exists()
    assert hash_device(lab.part(lab.model, 2)) == before


def test_restaure_without_backup_says_so_plainly(lab: LabDisks, tmp_path: Path) -> None:
    empty = tmp_path / "empty-store"
    empty.mkdir()
    marker = tmp_path / "rebooted"
    app = App(config.Config(reboot_command=["touch", str(marker)]), headless=True)
    build(app, restaure=True, store=str(empty))
    text = app.screen_text()
    assert "Il n'y a aucune sauvegarde à restaurer sur ce PC." in text and "Redémarrer" in text
    app.press("enter")
    assert marker.exists()
    shutil.rmtree(empty)


# -- End to end: the real program in tmux, 80x24, keys sent as a person types them. ---------


def tui_env(tmp_path: Path, **settings: object) -> dict[str, str]:
    cfg = tmp_path / "oscar.yaml"
    cfg.write_text(yaml.safe_dump(settings))
    return {"OSCAR_LANG": "fr", "OSCAR_CONFIG": str(cfg), "PYTHONPATH": str(ROOT), "TERM": "linux"}


def test_end_to_end_in_tmux_save_virus_restore(lab: LabDisks, tmp_path: Path) -> None:
    original = snapshot_partition(lab.part(lab.model, 1), "ntfs")
    began = time.monotonic()
    tmux = Tmux(tmp_path, ["tui", "--store", str(lab.store)], tui_env(tmp_path))
    try:
        screen = tmux.wait_for("Sauvegarde", timeout=20)
        started_in = time.monotonic() - began
        assert "Restauration" in screen and "Outils" in screen and "F1 : aide" in screen
        tmux.keys("s", "Enter")
        tmux.wait_for("Quel disque voulez-vous sauvegarder ?")
        tmux.focus_line(Path(lab.model).name)
        tmux.keys("Enter")
        tmux.wait_for("[X] 1  ntfs")
        tmux.keys("End", "Enter")
        tmux.wait_for("Nom de la sauvegarde")
        tmux.keys("End", "Up", "End", *["BSpace"] * 40)  # Continue, then the name field
        tmux.type("salle-b12")  # letters go into the field, not to the menu
        tmux.wait_for("Nom de la sauvegarde : salle-b12")
        tmux.keys("Down", "Enter")
        tmux.wait_for("Lancer la sauvegarde ?")
        tmux.keys("Enter")
        tmux.wait_for("Étape")
        tmux.keys("Escape")  # keys are handled while the save runs: cancel asks first...
        tmux.wait_for("Arrêter la sauvegarde ?")
        tmux.keys("Enter")  # ...and Enter on the focused button goes on with the save
        screen = tmux.wait_for("Sauvegarde complète et vérifiée")
        tmux.keys("Enter")
        tmux.wait_for("Restauration")
        assert oscar("verify", "--quick", str(lab.store / "salle-b12")).returncode == 0

        with mounted(lab.part(lab.model, 1), "ntfs") as root:  # the virus
            shutil.rmtree(root / "Users")
            (root / "Windows" / "System32" / "config" / "SYSTEM").write_bytes(b"locked!")
        sh("dd", "if=/dev/zero", f"of={lab.part(lab.model, 1)}", "bs=512", "count=1",
           "conv=notrunc")

        tmux.keys("r", "Enter")
        tmux.wait_for("Quelle sauvegarde voulez-vous restaurer ?")
        tmux.focus_line("salle-b12")
        tmux.keys("Enter")
        tmux.wait_for("(sauvegardée depuis ce disque)")
        tmux.keys("Enter")
        tmux.wait_for("Partitions à restaurer")
        tmux.keys("End", "Enter")
        tmux.wait_for("Tout le contenu de ces partitions sera remplacé.")
        tmux.keys("Enter")
        tmux.wait_for("terminée")
    finally:
        tmux.close()
    assert snapshot_partition(lab.part(lab.model, 1), "ntfs") == original
    fs_clean(lab.part(lab.model, 1), "ntfs")
    assert started_in < 20


def test_end_to_end_in_tmux_restaure(lab: LabDisks, tmp_path: Path) -> None:
    ensure_backup(lab)
    marker = tmp_path / "rebooted"
    env = tui_env(tmp_path, restaure_countdown=3, reboot_command=["touch", str(marker)])
    # A key stops the countdown; nothing is written.
    before = hash_device(lab.part(lab.model, 2))
    tmux = Tmux(tmp_path, ["tui", "--restaure"], env)
    try:
        tmux.wait_for("La restauration commence dans", timeout=30)
        tmux.keys("space")
        tmux.wait_for("La restauration a été arrêtée")
        time.sleep(4)
        assert "Restaurer maintenant" in tmux.screen()
    finally:
        tmux.close()
    assert hash_device(lab.part(lab.model, 2)) == before and not marker.exists()

    original = snapshot_partition(lab.part(lab.model, 2), "ext4")
    sh("dd", "if=/dev/urandom", f"of={lab.part(lab.model, 2)}", "bs=1M", "count=2", "seek=1",
       "conv=notrunc")
    # Stopped while it runs: the failure is logged (WARNING and up), to the log file only;
    # nothing but the menu writes on its screen.
    main_log = Path("/var/log/oscar/oscar.log")
    logged_before = main_log.stat().st_size if main_log.exists() else 0
    tmux = Tmux(tmp_path, ["tui", "--restaure"], env)
    try:
        tmux.wait_for("Restauration de ce PC", timeout=60)
        tmux.keys("Escape")
        tmux.wait_for("Arrêter la restauration ?")
        tmux.keys("Right", "Enter")
        screen = tmux.wait_for("Annulé par l'utilisateur", timeout=120)
        assert "restore failed" not in screen and "oscar.restore" not in screen, screen
    finally:
        tmux.close()
    with main_log.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(logged_before)
        assert "restore failed" in fh.read()
    tmux = Tmux(tmp_path, ["tui", "--restaure"], env)
    try:
        tmux.wait_for("La restauration commence dans", timeout=30)
        tmux.wait_for("Le PC a été restauré", timeout=300)  # no key: it goes by itself...
        end = time.monotonic() + 15  # ...and so does the reboot
        while tmux.alive() and time.monotonic() < end:
            time.sleep(0.1)
        assert not tmux.alive()  # OSCAR handed over to the reboot command
    finally:
        tmux.close()
    assert marker.exists()
    assert snapshot_partition(lab.part(lab.model, 2), "ext4") == original


def partitioned_disk(blank_disk: object) -> str:
    """A new disk with one ext4 partition (what a technician plugs in)."""
    device = blank_disk(256 << 20, "usb")  # type: ignore[operator]
    sh("sfdisk", "-q", device, input="type=83\n")
    sh("partx", "-a", device, check=False)
    sh("mkfs.ext4", "-q", "-F", "-L", "CLE", f"{device}p1")
    return str(device)


def test_block_events_report_a_plugged_disk(blank_disk: object) -> None:
    from oscar.disks.hotplug import BlockEvents

    events = BlockEvents()
    try:
        device = Path(partitioned_disk(blank_disk)).name
        seen: list[tuple[str, str]] = []
        end = time.monotonic() + 5
        while time.monotonic() < end and not any(name.startswith(device) for _a, name in seen):
            seen += events.drain()
            time.sleep(0.05)
        assert any(name.startswith(device) for _action, name in seen), seen
    finally:
        events.close()


def test_disk_list_follows_hotplug(lab: LabDisks, blank_disk: object) -> None:
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("s", "enter")
    assert "Quel disque voulez-vous sauvegarder ?" in app.screen_text()
    device = partitioned_disk(blank_disk)
    assert Path(device).name not in app.screen_text()
    app.disks_changed()  # what the event loop calls once the plug's events have settled
    assert Path(device).name in app.screen_text()


def test_end_to_end_in_tmux_hotplug(lab: LabDisks, tmp_path: Path, blank_disk: object) -> None:
    tmux = Tmux(tmp_path, ["tui", "--store", str(lab.store)], tui_env(tmp_path))
    try:
        tmux.wait_for("Sauvegarde", timeout=20)
        tmux.keys("s", "Enter")
        tmux.wait_for("Quel disque voulez-vous sauvegarder ?")
        path = partitioned_disk(blank_disk)
        device = Path(path).name
        assert device not in tmux.screen()
        tmux.wait_for(f"{device} ", timeout=10)  # the list redrew itself: nobody pressed a key
        labmod.detach_device(path)  # unplugged: it goes away again
        end = time.monotonic() + 10
        while f"{device} " in tmux.screen() and time.monotonic() < end:
            time.sleep(0.1)
        assert f"{device} " not in tmux.screen()
        assert "Quel disque voulez-vous sauvegarder ?" in tmux.screen()
    finally:
        tmux.close()


def test_prepare_a_disk_through_the_menu(lab: LabDisks, blank_disk: object) -> None:
    disk = str(blank_disk(2 << 30, "new"))  # type: ignore[operator]
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("o", "enter", "enter")  # Outils > Préparer un disque
    assert "Quel disque voulez-vous préparer ?" in app.screen_text()
    choose(app, Path(lab.model).name)
    assert "est monté" in app.screen_text() or "contient le dossier" in app.screen_text()
    choose(app, "OK")
    choose(app, Path(disk).name)
    text = app.screen_text()
    assert "Windows seul" in text and "Double démarrage" in text and "À la main" in text
    assert "cfdisk" in text  # no graphical display here
    app.press("enter")  # Windows seul
    choose(app, "MBR")
    text = app.screen_text()
    assert "Tapez " + Path(disk).name + " pour confirmer" in text
    screen = app.current.widget
    screen.set_focus(3)
    app.press(*Path(disk).name, "enter")
    app.wait_task()
    assert "est prêt" in app.screen_text(), app.screen_text()
    assert blkid_label(f"{disk}p1") == ("ntfs", "Windows")
    assert blkid_label(f"{disk}p2") == ("ext4", "OSCAR")


def blkid_label(device: str) -> tuple[str, str]:
    out = sh("blkid", "-p", "-o", "export", device, check=False).stdout
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return found.get("TYPE", ""), found.get("LABEL", "")


def test_cancelled_restore_is_recovered_by_the_next_restore(lab: LabDisks) -> None:
    ensure_backup(lab)
    name = next(e.name for e in Store(lab.store).entries() if e.usable)
    original = snapshot_partition(lab.part(lab.model, 1), "ntfs")
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))

    def start_restore() -> None:
        app.press("r", "enter")
        choose(app, name)
        choose(app, Path(lab.model).name)
        choose(app, "Continuer")
        choose(app, "Confirmer")

    start_restore()
    time.sleep(0.3)  # verifying checksums, or already writing partition 1
    app.press("esc")
    assert "Arrêter la restauration ?" in app.screen_text()
    press_button(app, "Arrêter la restauration")
    app.wait_task()
    assert "Annulé par l'utilisateur" in app.screen_text(), app.screen_text()
    choose(app, "OK")
    start_restore()  # the same restore again, to the end: the PC is whole again
    app.wait_task()
    assert "terminée" in app.screen_text(), app.screen_text()
    assert snapshot_partition(lab.part(lab.model, 1), "ntfs") == original


def test_end_to_end_in_tmux_shell_and_back(lab: LabDisks, tmp_path: Path) -> None:
    tmux = Tmux(tmp_path, ["tui", "--store", str(lab.store)],
                {**tui_env(tmp_path), "SHELL": "/bin/sh", "PS1": "oscar-shell$ "})
    try:
        tmux.wait_for("Sauvegarde", timeout=20)
        tmux.keys("o", "Enter", "s", "Enter")  # Outils > Shell
        tmux.wait_for("Tapez exit pour revenir au menu OSCAR.")
        tmux.type("echo hello-$((6*7))\n")
        tmux.wait_for("hello-42")
        tmux.type("exit\n")
        screen = tmux.wait_for("Choisissez un outil :")
        assert "Shell" in screen and "hello-42" not in screen  # the menu is drawn again
    finally:
        tmux.close()


def test_restore_onto_a_bigger_disk_asks_how_to_lay_it_out(lab: LabDisks, blank_disk: object) -> None:
    """Restauration onto a disk 1.5x the model's: the menu asks proportional or "the last one
    grows", the plan shows the new layout, and the disk gets it."""
    ensure_backup(lab)
    name = next(e.name for e in Store(lab.store).entries() if e.usable)
    disk = str(blank_disk(3 << 29, "bigger"))  # type: ignore[operator]
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("r", "enter")
    choose(app, name)
    choose(app, Path(disk).name)
    assert "[X] Écrire aussi la table" in app.screen_text()  # a blank disk: the table is ticked
    choose(app, "Continuer")
    text = app.screen_text()
    assert "Répartir les autres partitions" in text and "garde sa taille" in text, text
    assert "Proportionnel" in text and "La dernière grandit" in text
    choose(app, "La dernière grandit")
    text = app.screen_text()
    # the plan's new layout, partition by partition (its first lines scroll above the question)
    assert "partition 2 (ext4, Linux) : 213,9\u00a0Mo -> " in text, text  # French units
    assert "partition 1 (ntfs, Windows) : " not in text  # kept at its size: not a change
    screen = app.current.widget
    screen.set_focus(3)
    app.press(*Path(disk).name, "enter")
    app.wait_task()
    assert "terminée" in app.screen_text(), app.screen_text()
    model = {p["node"][-1]: p["size"] for p in json.loads(
        sh("sfdisk", "-J", lab.model).stdout)["partitiontable"]["partitions"]}
    new = {p["node"][-1]: p["size"] for p in json.loads(
        sh("sfdisk", "-J", disk).stdout)["partitiontable"]["partitions"]}
    assert new["1"] == model["1"] and new["4"] == model["4"] and new["2"] > model["2"]
    fs_clean(f"{disk}p2", "ext4")


def test_restore_onto_a_much_smaller_disk_offers_to_shrink_the_oscar_partition(
        lab: LabDisks, blank_disk: object) -> None:
    """0.4x the model: too small with the OSCAR partition at its size; the menu says so with
    the numbers and offers to shrink it; then the restore fits (NTFS shrunk beside the backups)."""
    ensure_backup(lab)
    name = next(e.name for e in Store(lab.store).entries() if e.usable)
    original = snapshot_partition(lab.part(lab.model, 1), "ntfs")
    disk = str(blank_disk(int(0.4 * (1 << 30)) >> 20 << 20, "smaller"))  # type: ignore[operator]
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("r", "enter")
    choose(app, name)
    choose(app, Path(disk).name)
    choose(app, "Continuer")
    text = app.screen_text()
    assert "Le disque est trop petit" in text and "gardée" in text, text
    choose(app, "Rétrécir la partition OSCAR")
    flat = " ".join(app.screen_text().split())
    assert "La partition OSCAR rétrécit aussi" in flat and "La dernière grandit" not in flat, flat
    choose(app, "Proportionnel")
    flat = " ".join(app.screen_text().split())
    # the Linux partition shrinks in place after its restore; one verification, of the folder
    assert "Rétrécir le système de fichiers de la partition 2" in flat, flat
    assert "manifeste reçus" not in flat, flat
    screen = app.current.widget
    screen.set_focus(3)
    app.press(*Path(disk).name, "enter")
    app.wait_task()
    assert "terminée" in app.screen_text(), app.screen_text()
    assert snapshot_partition(f"{disk}p1", "ntfs") == original
    fs_clean(f"{disk}p1", "ntfs")
    assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", f"{disk}p4").stdout.strip() == "OSCAR"


def test_delete_a_backup_from_the_menu_asks_with_keep_focused(lab: LabDisks) -> None:
    """Tools → Supprimer une sauvegarde: the question's focused button keeps it; the other
    deletes it, and `oscar list` no longer shows it."""
    assert oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "to-delete",
                 "--parts", "2", "--yes").returncode == 0
    app = App(headless=True)
    build(app, restaure=False, store=str(lab.store))
    app.press("o", "enter")
    choose(app, "Supprimer une sauvegarde")
    choose(app, "to-delete")
    text = app.screen_text()
    assert "to-delete" in text and "seront supprimés" in text, text
    app.press("enter")  # the focused button: "La garder"
    assert (lab.store / "to-delete").is_dir()
    choose(app, "to-delete")
    press_button(app, "La supprimer")
    assert "supprimée" in app.screen_text()
    assert not (lab.store / "to-delete").exists()
    assert not list(lab.store.glob(".oscar-*"))
    assert "to-delete" not in oscar("list", str(lab.store)).stdout


def test_delete_on_the_command_line(lab: LabDisks) -> None:
    assert oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "cli-delete",
                 "--parts", "2", "--yes").returncode == 0
    asked = oscar("delete", "--store", str(lab.store), "--name", "cli-delete")
    assert asked.returncode != 0 and "--yes" in asked.stderr  # no terminal to ask
    assert (lab.store / "cli-delete").is_dir()
    missing = oscar("delete", "--store", str(lab.store), "--name", "no-such")
    assert missing.returncode == 2 and "No backup named 'no-such'" in missing.stderr
    hostile = oscar("delete", "--store", str(lab.store), "--name", "../etc")
    assert hostile.returncode == 2 and "oscar: error" in hostile.stderr, hostile.stderr
    assert "Traceback" not in hostile.stderr
    done = oscar("delete", "--store", str(lab.store), "--name", "cli-delete", "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted" in done.stdout and not (lab.store / "cli-delete").exists()
