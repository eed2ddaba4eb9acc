"""The menu without a terminal: screens rendered to text at 80x24 and keys pressed (as
subiquity tests its views), the menu files, the password and cancellation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urwid

from oscar.core import cancel, config, i18n, run
from oscar.core.errors import Aborted, BackupInvalid, UsageError
from oscar.disks.devices import Disk
from oscar.ui.tui import actions, menus, widgets
from oscar.ui.tui.app import App, Screen, UiProgress
from oscar.ui.tui.main import build, restaure_requested
from tests.conftest import ROOT, oscar

pytestmark = pytest.mark.unit


@pytest.fixture(params=["fr", "en"])
def lang(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OSCAR_LANG", request.param)
    i18n.reset()
    yield str(request.param)
    i18n.reset()


@pytest.fixture
def french(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OSCAR_LANG", "fr")
    i18n.reset()
    yield
    i18n.reset()


def menu_app(tmp_path: Path) -> App:
    app = App(headless=True)
    build(app, restaure=False, store=str(tmp_path))
    return app


def lines_fit(text: str) -> None:
    lines = text.split("\n")
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines), text


def test_every_action_resolves_and_every_submenu_exists() -> None:
    tree = menus.load()
    assert menus.actions(tree) <= set(actions.ACTIONS), menus.actions(tree) - set(actions.ACTIONS)
    assert {"save", "restore", "deploy", "show-help", "logs", "shell", "reboot"} <= menus.actions(tree)
    procedures = [i.key for i in tree["procedures"].items if i.action == "deploy"]
    assert procedures == ["restaure", "simple", "formate", "complete", "petite", "table", "disque"]


def test_every_item_has_help_in_both_languages() -> None:
    catalog = i18n.parse_po((ROOT / "oscar/data/locale/fr/LC_MESSAGES/oscar.po").read_text("utf-8"))
    for menu in menus.load().values():
        for item in menu.items:
            assert len(item.help_id) > 40, item.key
            for text in (item.label_id, item.summary_id, item.help_id):
                assert catalog.get(text), f"{menu.id}/{item.key}: no French for {text!r}"
            assert catalog[item.help_id] != item.help_id, f"{item.key}: help not translated"


def test_broken_menu_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(
        "id: main\ntitle: OSCAR\nitems:\n  - {key: a, label: A, summary: s, help: h, submenu: nowhere}\n")
    with pytest.raises(Exception, match="unknown menu nowhere"):
        menus.load(tmp_path)
    (tmp_path / "main.yaml").write_text(
        "id: main\ntitle: OSCAR\nitems:\n  - {key: a, label: A, summary: s, help: h}\n")
    with pytest.raises(Exception, match="exactly one of action, submenu"):
        menus.load(tmp_path)


def test_main_menu_in_both_languages(tmp_path: Path, lang: str) -> None:
    text = menu_app(tmp_path).screen_text()
    lines_fit(text)
    words = (["Sauvegarde", "Restauration", "Déploiement", "Outils", "F1 : aide"]
             if lang == "fr" else ["Save", "Restore", "Deployment", "Tools", "F1: help"])
    for word in words:
        assert word in text
    # The first screen has nothing to go back to: its footer does not offer Esc.
    assert "Échap" not in text and "Esc" not in text
    assert "> " in text.split("\n")[1]  # the focused row is marked without colours too


def test_letters_jump_escape_goes_back_f1_helps(tmp_path: Path, french: None) -> None:
    app = menu_app(tmp_path)
    app.press("o")
    assert ">  Outils" in app.screen_text()
    app.press("f1")
    text = app.screen_text()
    assert "Aide" in text.split("\n")[0] and "Outils du technicien" in text
    app.press("esc", "enter")
    assert "OSCAR — Outils" in app.screen_text().split("\n")[0]
    app.press("j")  # Journaux
    assert ">  Journaux" in app.screen_text()
    app.press("esc")
    assert app.screen_text().split("\n")[0].strip() == "OSCAR"


def test_deployment_procedures_and_their_synopsis(tmp_path: Path, french: None) -> None:
    app = menu_app(tmp_path)
    app.press("d", "enter", "enter")  # Déploiement > Synchrone
    text = app.screen_text()
    lines_fit(text)
    for name in ("restaure", "aide_restaure", "simple", "formate", "complète", "petite", "table",
                 "disque"):
        assert name in text
    assert "Sélectionnez la procédure de déploiement" in text.split("\n")[0] or "Synchrone" in text
    app.press("down", "enter")  # aide_restaure
    text = app.screen_text()
    assert "restaure : les clients restaurent la sauvegarde du serveur" in text
    # The synopsis, step by step, on the server and on each client, and what is erased.
    assert "Sur le serveur :" in text and "Sur chaque client :" in text, text
    assert "les partitions de la sauvegarde sont remplacées" in " ".join(text.split())
    app.press("esc", "down", "down", "down", "down", "enter")  # aide_formate
    assert "toutes les partitions sont effacées, sauf sa partition OSCAR" in " ".join(
        app.screen_text().split())
    app.press("esc", "home", "enter")  # restaure itself: the backups of the store (none here)
    text = app.screen_text()
    assert "Aucune sauvegarde dans" in text and str(tmp_path) in text, text


def test_confirm_needs_the_typed_word() -> None:
    confirmed: list[bool] = []
    app = App(headless=True)
    app.push(Screen("t", widgets.confirm_screen("Plan: write sdb", "Sure?",
                                                lambda: confirmed.append(True), app.pop,
                                                typed="sdb")))
    app.press("tab")  # nothing typed: moving around does nothing
    screen = app.current.widget
    screen.set_focus(len(screen.body) - 1)  # the buttons
    app.press("enter")
    assert not confirmed and "exactly" in app.screen_text()
    screen.set_focus(3)
    app.press("s", "d", "a", "enter")
    assert not confirmed
    app.press("backspace", "b", "enter")
    assert confirmed == [True]


def test_progress_and_error_screens(french: None) -> None:
    state = widgets.ProgressState(title="Sauvegarde de /dev/sda", step="Étape 2/4 : partition 1",
                                  label="partition 1 (ntfs)", fraction=0.42, step_fraction=0.5,
                                  rate="61.0 Mo/s", elapsed="0:01:10", remaining_seconds=97)
    text = widgets.render_text(widgets.ProgressView(state))
    lines_fit(text)
    for part in ("Étape 2/4", "42 %", "61.0 Mo/s", "écoulé 0:01:10", "restant 0:01:37",
                 "50 % de cette étape", "Échap : arrêter"):
        assert part in text, (part, text)
    # The bar and times on top are the whole operation's; the step comes below them.
    lines = text.split("\n")
    assert lines.index(next(x for x in lines if "42 %" in x)) < lines.index(
        next(x for x in lines if "Étape 2/4" in x))
    state.plain = True  # the teacher's restaure: no step, device or tool
    text = widgets.render_text(widgets.ProgressView(state))
    assert "Temps restant : environ 2 minutes" in text, text
    for word in ("Étape", "ntfs", "/dev", "Mo/s"):
        assert word not in text.replace("Sauvegarde de /dev/sda", ""), word
    app = App(headless=True)
    app.push(Screen("OSCAR", widgets.text_screen("menu")))
    app.error(BackupInvalid("Somme de contrôle fausse pour sda1.ntfs-img.zst.",
                            "La sauvegarde est abîmée ; utilisez une autre copie."))
    text = app.screen_text()
    for part in ("sda1.ntfs-img.zst", "utilisez une autre copie", "journal", "OK"):
        assert part in text
    app.press("enter")
    assert app.screen_text().split("\n")[1].startswith("menu")  # the menu is still there


def test_password_hash_is_grub_pbkdf2_and_never_clear(tmp_path: Path) -> None:
    hashed = config.hash_password("s3cret!")
    assert hashed.startswith("grub.pbkdf2.sha512.10000.") and "s3cret" not in hashed
    assert config.check_password("s3cret!", hashed) and not config.check_password("s3cret", hashed)
    # Same derivation as grub-mkpasswd-pbkdf2 (PBKDF2-HMAC-SHA512, 64-byte hash, hex).
    known = config.hash_password("oscar", bytes(range(64)), 1000)
    assert config.check_password("oscar", known) and len(known.split(".")[5]) == 128
    where = tmp_path / "oscar.yaml"
    result = oscar("password", "--stdin", stdin="motdepasse\n", env={"OSCAR_CONFIG": str(where)})
    assert result.returncode == 0, result.stderr
    stored = where.read_text()
    # The hash is of what GRUB receives from the French keys (m is where QWERTY has ;).
    assert "motdepasse" not in stored and config.check_password(";otdepqsse",
                                                                 config.load(where).password_hash or "")
    assert config.password_matches(config.load(where), "motdepasse")
    assert "AZERTY" in result.stdout
    where.write_text("pasword_hash: x\n")
    bad = oscar("password", "--stdin", stdin="abcd\n", env={"OSCAR_CONFIG": str(where)})
    assert bad.returncode == 2 and "Unknown setting 'pasword_hash'" in bad.stderr


def test_password_guards_the_menu(tmp_path: Path, french: None) -> None:
    app = App(config.Config(password_hash=config.hash_password("ecole")), headless=True)
    build(app, restaure=False, store=str(tmp_path))
    assert "protégé par un mot de passe" in app.screen_text()
    app.press(*"faux", "enter")
    assert "Mot de passe incorrect" in app.screen_text()
    app.press("esc")  # no way around it
    assert "Sauvegarde" not in app.screen_text()
    app.press(*"ecole", "enter")
    assert "Sauvegarde" in app.screen_text()


def test_restaure_is_selected_by_the_kernel_command_line() -> None:
    assert restaure_requested("BOOT_IMAGE=/vmlinuz quiet oscar=restaure")
    assert not restaure_requested("BOOT_IMAGE=/vmlinuz quiet oscar=menu")


def test_cancel_kills_the_running_tool_and_raises_aborted() -> None:
    cancel.reset()
    caught: list[BaseException] = []

    def work() -> None:
        try:
            run.run(["sleep", "30"])
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=work)
    began = time.monotonic()
    thread.start()
    time.sleep(0.3)
    cancel.request()
    thread.join(10)
    assert time.monotonic() - began < 5 and isinstance(caught[0], Aborted)
    with pytest.raises(Aborted):
        run.run(["true"])  # nothing new starts once cancelled
    cancel.reset()
    run.run(["true"])


def test_long_task_keeps_the_ui_responsive() -> None:
    """Keys are handled while a task runs (the work is on another thread)."""
    app = App(headless=True)
    app.push(Screen("OSCAR", widgets.text_screen("menu")))
    release = threading.Event()
    results: list[object] = []

    def work(progress: object) -> str:
        release.wait(10)
        return "done"

    app.run_task("Long", work, results.append, results.append)
    app.press("esc")  # asks before stopping: the buttons say the outcome, the safe one first
    assert "Stop this operation?" in app.screen_text()
    assert "< Continue >  < Stop" in app.screen_text()
    app.press("esc")
    assert isinstance(app.current.widget, widgets.ProgressView)
    app.press("esc", "enter")  # Esc then Enter (the reflex) goes on with the work
    assert isinstance(app.current.widget, widgets.ProgressView) and not cancel.requested()
    release.set()
    app.wait_task()
    assert results == ["done"] and not isinstance(app.current.widget, widgets.ProgressView)
    assert urwid  # the real library renders every screen above


def test_user_guides_show_every_menu_in_both_languages() -> None:
    """docs/ holds the guides written by scripts/user_guide.py from the real screens."""
    for lang, words in (("fr", ["OSCAR — Sauvegarde", "OSCAR — Restauration", "OSCAR — Déploiement",
                                "OSCAR — Outils", "Tapez sda pour confirmer", "Mot de passe"]),
                        ("en", ["OSCAR — Save", "OSCAR — Restore", "OSCAR — Deployment",
                                "OSCAR — Tools", "Type sda to confirm", "Password"])):
        guide = (ROOT / f"docs/guide-{lang}.md").read_text(encoding="utf-8")
        for word in words:
            assert word in guide, (lang, word)
        teachers = (ROOT / f"docs/restaure-{lang}.md").read_text(encoding="utf-8")
        assert "restaure" in teachers and "```" in teachers
    assert "La restauration commence dans 10 secondes" in (ROOT / "docs/restaure-fr.md").read_text()


def test_logs_screen_shows_the_end_of_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              french: None) -> None:
    from oscar.core import oplog

    log_file = tmp_path / "oscar.log"
    log_file.write_text("".join(f"2026-11-27 line {n}\n" for n in range(1000)))
    monkeypatch.setattr(oplog, "_main_log", log_file)
    # A restore's own log in a backup of the store: listed first, its problems on top.
    restore_log = tmp_path / "pc07" / "logs" / "restore-20261127-101500-sda.log"
    restore_log.parent.mkdir(parents=True)
    restore_log.write_text("2026-11-27 10:15:00 oscar.restore: restoring 'pc07'\n"
                           + "x" * 150 + " long line end\n"
                           "2026-11-27 10:16:00 ERROR oscar.restore: restore failed: disk gone\n")
    os.utime(log_file, (0, 0))
    app = menu_app(tmp_path)
    app.press("o", "enter", "j", "enter")
    text = app.screen_text()
    assert "OSCAR — Outils > Journaux" in text, text
    rows = [line for line in text.splitlines() if line.startswith((">", "  "))]
    assert "restore-20261127" in rows[0] and "oscar.log" in text
    app.press("enter")
    text = app.screen_text()
    assert "Avertissements et erreurs" in text and "restore failed: disk gone" in text
    assert "long line end" in " ".join(text.split())  # wrapped, not cut at 80 columns
    app.press("esc", "end", "enter")  # OSCAR's own log: its end
    text = app.screen_text()
    assert "line 999" in text and "line 500" not in text


def test_reboot_and_poweroff_ask_then_run_the_configured_command(tmp_path: Path,
                                                                 french: None) -> None:
    marker = tmp_path / "off"
    app = App(config.Config(poweroff_command=["touch", str(marker)]), headless=True)
    build(app, restaure=False, store=str(tmp_path))
    app.press("o", "enter", "é", "enter")  # Éteindre
    assert "Éteindre le PC maintenant ?" in app.screen_text() and not marker.exists()
    app.press("enter")  # Confirmer
    assert marker.exists()


def test_whole_operation_progress_never_says_zero_remaining_midway(french: None,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """Four steps; the overall bar moves on with each, the remaining time is the whole
    operation's and the step's own label is cleared at each new step."""
    now = [1000.0]
    monkeypatch.setattr("oscar.ui.tui.app.time.monotonic", lambda: now[0])
    state = widgets.ProgressState()
    progress = UiProgress(state)
    progress.step(1, 4, "vérification")
    progress.start("sommes", 100)
    now[0] += 10
    progress.update(1.0)  # step 1 done after 10 s: a quarter of the whole
    assert state.fraction == pytest.approx(0.25) and state.remaining_seconds == pytest.approx(30)
    progress.step(2, 4, "partition 1")
    assert state.label == "" and state.fraction == pytest.approx(0.25)
    progress.start("partition 1 (ntfs)", 10**9)
    now[0] += 10
    progress.update(0.44)
    assert 0.25 < state.fraction < 0.5 and state.remaining_seconds is not None
    assert state.remaining_seconds > 10  # not "0:00:00" at 44 % of a step
    assert state.elapsed == "0:00:20"  # since the operation began, not since the step did
    assert "Mo/s" in state.rate
    progress.step(4, 4, "menu de démarrage")
    assert state.label == "" and state.rate == ""  # no leftover "partition 2 (ext4)"


def test_nothing_but_the_menu_writes_on_its_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Log records (OSCAR's and other libraries'), Python's stderr and a child's stderr go to
    OSCAR's log while the menu runs; a program given the terminal gets its stderr back."""
    import logging
    import subprocess
    import sys

    from oscar.core import oplog
    log_file = tmp_path / "oscar.log"
    monkeypatch.setattr(oplog, "_main_log", log_file)
    console = logging.StreamHandler(sys.stderr)
    logging.getLogger("oscar").addHandler(console)
    try:
        quiet = oplog.QuietTerminal()
        with quiet:
            logging.getLogger("oscar.restore").warning("restore failed: stopped")
            logging.getLogger("paramiko.transport").warning("a library's warning")
            subprocess.run(["sh", "-c", "echo child-complains >&2"], check=True)
            with quiet.lent():
                subprocess.run(["sh", "-c", "echo shell-prompt >&2"], check=True)
        logging.getLogger("oscar.cli").warning("after the menu")
    finally:
        logging.getLogger("oscar").removeHandler(console)
    err = capfd.readouterr().err
    assert "restore failed" not in err and "a library's warning" not in err, err
    assert "child-complains" not in err
    assert "shell-prompt" in err and "after the menu" in err  # handed back as it was
    kept = log_file.read_text()
    assert "child-complains" in kept


def test_the_password_works_as_typed_on_a_french_keyboard(tmp_path: Path, french: None) -> None:
    """GRUB reads keys as US QWERTY: the hash is of what it receives from the AZERTY keys;
    the menu (French keymap in Linux) reads the characters and translates them the same way."""
    from oscar.core import keyboard
    conf = config.Config()
    config.set_password(conf, "azerty42m")
    assert conf.password_keyboard == "fr"
    assert conf.password_hash is not None
    # What a US keyboard layout gives GRUB when the same physical keys are pressed.
    assert config.check_password("qwerty$@;", conf.password_hash)
    assert not config.check_password("azerty42m", conf.password_hash)
    assert config.password_matches(conf, "azerty42m") and not config.password_matches(conf, "x")
    for refused in ("ecole@42", "a#b", "pâte", "<tag>"):
        with pytest.raises(UsageError, match="AltGr"):
            config.set_password(config.Config(), refused)
    # Two different characters never give GRUB the same one (no two passwords collide), and
    # GRUB receives printable ASCII only.
    table = keyboard.LAYOUTS["fr"]
    assert len(set(table.values())) == len(table)
    assert all(" " <= v <= "~" for v in table.values())
    assert keyboard.as_grub_receives("&é\"'(-è_çà)=", "fr") == "1234567890-="
    # Saved and read back: the layout travels with the hash; an older file means "us".
    where = tmp_path / "oscar.yaml"
    config.save(conf, where)
    again = config.load(where)
    assert again.password_keyboard == "fr" and config.password_matches(again, "azerty42m")
    where.write_text(f"password_hash: {config.hash_password('ecole42')}\n")
    assert config.password_matches(config.load(where), "ecole42")
    app = App(config.load(where), headless=True)
    from oscar.ui.tui.main import build
    build(app, restaure=False, store=str(tmp_path))
    assert "Mot de passe" in app.screen_text()


def test_restaure_runs_on_the_pcs_screen_and_the_serial_line_shows_a_copy(
        tmp_path: Path, french: None) -> None:
    from oscar.ui.tui import mirror
    assert mirror.is_serial_line("/dev/ttyS0", screen_exists=True)
    assert not mirror.is_serial_line("/dev/tty1", screen_exists=True)
    assert not mirror.is_serial_line("/dev/pts/3", screen_exists=True)
    assert not mirror.is_serial_line("/dev/ttyS0", screen_exists=False)  # no screen: runs there
    source = tmp_path / "restaure-screen.txt"
    assert "Attente de l'écran du PC" in mirror.mirrored_text(source)
    app = App(headless=True)
    app.mirror = source
    app.push(Screen("restaure", widgets.text_screen("La restauration commence dans 9 secondes."),
                    keys="Une touche : arrêter le compte à rebours"))
    copy = mirror.mirrored_text(source)
    assert copy.startswith("Copie de l'écran de ce PC")
    assert "commence dans 9 secondes" in copy
    assert "Une touche" not in copy  # the PC's key hints: keys typed on the serial line do nothing
    app.replace(Screen("restaure", widgets.text_screen("La restauration a été arrêtée.")))
    assert "arrêtée" in mirror.mirrored_text(source)  # not "running" after it stopped


def test_console_font_fills_the_screen_with_the_80x24_menu() -> None:
    from oscar.engine import consolefont
    assert consolefont.choose(1280, 800) == "Lat15-TerminusBold32x16.psf.gz"  # 80x25
    assert consolefont.choose(1024, 768) == "Lat15-TerminusBold24x12.psf.gz"  # 85x32
    assert consolefont.choose(640, 480) == "Lat15-TerminusBold16.psf.gz"
    assert consolefont.choose(600, 300) is None  # too small even for 8x16: the kernel's stays
    for width, height in ((1280, 800), (1024, 768), (1366, 768), (1920, 1080), (800, 600)):
        name = consolefont.choose(width, height)
        assert name is not None
        cell = next((w, h) for s, w, h in consolefont.TERMINUS if s in name)
        assert width // cell[0] >= 80 and height // cell[1] >= 24


def test_a_disk_list_redrawn_under_the_cursor_keeps_the_same_disk(tmp_path: Path,
                                                                  french: None) -> None:
    """Disks arrive (a USB disk plugged in) and the list is sorted again: the cursor stays on
    the disk it was on, by identity, and a line says the list changed."""
    from oscar.ui.tui.context import Context
    from oscar.ui.tui.flows.grub import GrubFlow
    from tests.machines import school_pc
    app = App(headless=True)
    app.push(Screen("OSCAR", widgets.text_screen("menu")))
    disks = [school_pc("/dev/loop2", serial="B"), school_pc("/dev/loop3", serial="C")]
    ctx = Context(app, tmp_path, machine=disks)
    flow = GrubFlow(ctx)
    flow.show_disks()
    app.press("down")  # on loop3
    assert app.current.widget.focused_key() == disks[1].identity
    disks.insert(0, school_pc("/dev/loop10", serial="A"))  # sorts first, under the cursor
    app.disks_changed()
    text = app.screen_text()
    assert "La liste a changé" in text, text
    assert app.current.widget.focused_key() == disks[2].identity  # still loop3, not loop2
    del disks[2]  # the disk under the cursor is unplugged: nothing chosen by a stray Enter
    app.disks_changed()
    assert "débranché" in app.screen_text()
    assert app.current.widget.focused_key() == ""


def test_disks_are_listed_in_the_order_a_person_reads() -> None:
    from oscar.disks.probe import natural_key
    names = ["loop10", "sdb", "loop2", "nvme1n1", "sda", "nvme0n1", "loop1"]
    assert sorted(names, key=natural_key) == ["loop1", "loop2", "loop10", "nvme0n1", "nvme1n1",
                                              "sda", "sdb"]


def test_teacher_words_for_dates_and_durations(french: None) -> None:
    import datetime

    from oscar.core import spoken
    moment = datetime.datetime(2026, 12, 2, 5, 4)
    assert spoken.date_in_words(moment) == "mercredi 2 décembre 2026 à 5\u00a0h\u00a004"
    assert spoken.about_duration(20) == "moins d'une minute"
    assert spoken.about_duration(372) == "environ 6 minutes"
    assert spoken.about_duration(60) == "environ 1 minute"
    assert spoken.about_duration(4800) == "environ 1\u00a0h\u00a020"
    assert spoken.parse_created("2026-11-20T18:05:33+01:00") is not None
    assert spoken.parse_created("hier") is None


def test_save_plan_says_the_room_needed_and_refuses_what_cannot_fit(tmp_path: Path) -> None:
    from oscar.backups.store import Store
    from oscar.ops.save import SaveOptions, build_plan, estimated_bytes
    from tests.machines import saved_backup, school_pc
    entries = saved_backup().partitions
    opts = SaveOptions(name="pc07")
    expected, least = estimated_bytes(entries, opts)
    used = 41 * 10**9 + 11 * 10**9
    assert least < used * 0.3 < expected < used
    plan = build_plan(school_pc(), Store(tmp_path), entries, opts, free=10 * 10**9,
                      replacing=True)
    text = plan.render()
    assert "Space: needed about" in text and "free 10.0 GB" in text, text
    assert "probably not fit" in text and "both take room" in text
    roomy = build_plan(school_pc(), Store(tmp_path), entries, opts, free=10**12).render()
    assert "probably not fit" not in roomy and "both take room" not in roomy


def test_the_oscar_partition_is_the_one_oscar_started_from_never_a_guess() -> None:
    import dataclasses

    from oscar.backups import oscarpart
    from tests.machines import school_pc

    def with_uuid(disk: Disk, uuid: str) -> Disk:
        parts = [dataclasses.replace(p, uuid=uuid) if p.number == 4 else p
                 for p in disk.partitions]
        return dataclasses.replace(disk, partitions=parts)

    first = with_uuid(school_pc("/dev/sda", serial="A"), "1111-aaaa")
    second = with_uuid(school_pc("/dev/sdb", serial="B"), "2222-bbbb")
    started = "boot=live live-media=/dev/disk/by-uuid/2222-bbbb oscar=restaure"
    found = oscarpart.find([first, second], started)
    assert found is not None and found[0].path == "/dev/sdb"  # not the first one listed
    assert oscarpart.find([first, second], "boot=live oscar=menu") is None
    assert oscarpart.find([first], "boot=live oscar=menu") is not None  # the only one
    with pytest.raises(UsageError, match="several OSCAR partitions"):
        oscarpart.require([first, second])


def test_deleting_a_backup_is_all_or_nothing_and_spares_what_restaure_uses(
        tmp_path: Path) -> None:
    from oscar.backups.store import DELETING, Store
    store_root = tmp_path / "store"
    for name in ("old", "pinned"):
        (store_root / name / "logs").mkdir(parents=True)
        (store_root / name / "manifest.json").write_text("{}")
    store = Store(store_root)
    (store_root / "boot/grub").mkdir(parents=True)
    (store_root / "boot/grub/grub.cfg").write_text(
        "linux /live/vmlinuz boot=live oscar=restaure oscar.backup=pinned\n")
    with pytest.raises(UsageError, match="restaure"):
        store.delete("pinned")
    assert (store_root / "pinned/manifest.json").exists()
    with pytest.raises(UsageError):
        store.delete("../store")  # a name, never a path
    with pytest.raises(UsageError, match="No backup named"):
        store.delete("absent")
    (store_root / f"{DELETING}older").mkdir()  # a deletion the PC did not finish
    store.delete("old")
    assert not (store_root / "old").exists()
    store.recover()
    assert sorted(p.name for p in store_root.iterdir()) == ["boot", "pinned"]
