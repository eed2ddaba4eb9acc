#!/usr/bin/python3
"""Writes the user guides (docs/guide-fr.md, docs/guide-en.md) and the teachers' page
(docs/restaure-fr.md, docs/restaure-en.md) with a text capture of each screen.

The captures are the real menu's screens (the same flows, views and menus/ files), run against
a saved machine description (a school PC: Windows, Linux, swap, OSCAR partition) and a folder of
example backups, so regenerating the guide after a change shows the change. Nothing is written
to any disk. Run: python3 scripts/user_guide.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oscar.backups import checksums, manifest  # noqa: E402
from oscar.backups.manifest import Manifest, PartEntry  # noqa: E402
from oscar.core import config, i18n  # noqa: E402
from oscar.core.errors import BackupInvalid  # noqa: E402
from oscar.disks.devices import Disk, Partition  # noqa: E402
from oscar.net.deploy.report import render_table  # noqa: E402
from oscar.net.deploy.room import Room  # noqa: E402
from oscar.ui.tui import actions, widgets  # noqa: E402
from oscar.ui.tui.app import App, Screen  # noqa: E402
from oscar.ui.tui.context import Context  # noqa: E402
from oscar.ui.tui.flows.restaure import RestaureFlow  # noqa: E402
from oscar.ui.tui.main import ask_password  # noqa: E402

GB = 1_000_000_000
MIB = 1 << 20


def machine() -> list[Disk]:
    sda = Disk("/dev/sda", 500 * GB, model="ST500DM002-1BD142", serial="Z3TAB123",
               ptuuid="9a3c0f11", pttype="dos", holds_store=True, partitions=[
                   Partition("/dev/sda1", 1, MIB, 120 * GB, "ntfs", "Windows", used=41 * GB),
                   Partition("/dev/sda2", 2, MIB + 120 * GB, 60 * GB, "ext4", "Linux",
                             used=11 * GB),
                   Partition("/dev/sda3", 3, MIB + 180 * GB, 4 * GB, "swap"),
                   Partition("/dev/sda4", 4, MIB + 184 * GB, 315 * GB, "ext4", "OSCAR",
                             used=62 * GB)])
    key = Disk("/dev/sdb", 16 * GB, model="Cruzer Blade", serial="4C530001", pttype="dos",
               removable=True, is_boot_medium=True, partitions=[
                   Partition("/dev/sdb1", 1, MIB, 16 * GB - MIB, "vfat", "OSCAR-KEY")])
    new = Disk("/dev/sdc", 1000 * GB, model="WDC WD10EZEX-08W", serial="WCC6Y0000001")
    return [sda, key, new]


def example_store(folder: Path, disk: Disk) -> None:
    for name, created, stored in (("2026-09-01-SALLE-B12-PC07", "2026-09-01T17:42:10+02:00",
                                   (18 * GB, 4 * GB)),
                                  ("2026-11-20-SALLE-B12-PC07", "2026-11-20T18:05:33+01:00",
                                   (19 * GB, 4 * GB))):
        backup = folder / name
        backup.mkdir()
        parts = [PartEntry(1, "sda1", MIB, 120 * GB, "ntfs", "Windows", None, None, "data",
                           "ntfsclone", "zstd", ["sda1.ntfs-img"], 41 * GB, stored[0]),
                 PartEntry(2, "sda2", MIB + 120 * GB, 60 * GB, "ext4", "Linux", None, None,
                           "data", "partclone", "zstd", ["sda2.ext4-ptcl-img.zst"], 11 * GB,
                           stored[1]),
                 PartEntry(3, "sda3", MIB + 180 * GB, 4 * GB, "swap", None, None, None, "swap"),
                 PartEntry(4, "sda4", MIB + 184 * GB, 315 * GB, "ext4", "OSCAR", None, None,
                           "store")]
        man = Manifest(name, created, "oscar", {"identity": disk.identity, "name": "sda",
                                                "path": "/dev/sda", "size": disk.size},
                       ["sda-pt.sf", "sda-mbr"], parts, {}, "0.1.0")
        (backup / manifest.FILE).write_text(man.to_json())
        sectors = [(p.start // 512, p.size // 512, t) for p, t in
                   zip(parts, ("7", "83", "82", "83"), strict=True)]
        (backup / "sda-pt.sf").write_text(
            "label: dos\nlabel-id: 0x9a3c0f11\ndevice: /dev/sda\nunit: sectors\n"
            "sector-size: 512\n\n" + "".join(
                f"/dev/sda{n} : start= {start}, size= {size}, type={kind}\n"
                for n, (start, size, kind) in enumerate(sectors, 1)))
        (backup / "sda-mbr").write_bytes(bytes(512))
        (backup / checksums.FILE).write_text(checksums.render({manifest.FILE: "0" * 128}))


def capture(app: App) -> str:
    return "```\n" + app.screen_text() + "\n```\n"


TEXT = {
    "fr": {
        "title": "# Guide de l'utilisateur d'OSCAR (technicien)",
        "intro": ("Le menu OSCAR se lance au démarrage de la clé OSCAR, du serveur PXE ou de "
                  "l'entrée « OSCAR » du menu de démarrage du PC (`oscar tui` en ligne de "
                  "commande). Tout se fait au clavier, sur un écran de 80x24 : flèches pour se "
                  "déplacer, Entrée pour choisir, Échap pour revenir, F1 pour l'aide de "
                  "l'élément sélectionné ; la première lettre d'un élément y saute. Les écrans "
                  "ci-dessous sont des captures du vrai menu (un PC d'une salle : Windows, "
                  "Linux, swap et la partition OSCAR ; la clé OSCAR n'est jamais proposée)."),
        "main": "## Le menu principal",
        "help": "F1 affiche l'aide de l'élément sélectionné :",
        "save": "## Sauvegarde",
        "save1": "Choisir le disque à sauvegarder (le disque de démarrage n'est pas proposé) :",
        "save2": ("Les partitions dont le système de fichiers est connu sont cochées ; le swap "
                  "est noté sans être sauvegardé ; la partition OSCAR contient les sauvegardes "
                  "et n'est pas proposée. Espace coche ou décoche, Fin va au bouton Continuer :"),
        "save3": ("Méthode, compression et nom (par défaut : la date et le nom de l'ordinateur "
                  "lu dans Windows ou Linux) :"),
        "save4": ("Le plan : chaque étape, le disque désigné par son identité. Rien n'est écrit "
                  "avant « Confirmer » :"),
        "save5": ("La progression : étape du plan, pourcentage, débit, temps écoulé et restant. "
                  "Échap demande s'il faut annuler ; une sauvegarde annulée n'apparaît jamais, "
                  "les autres restent intactes :"),
        "save6": "La sauvegarde n'apparaît qu'une fois complète et relue depuis le disque :",
        "restore": "## Restauration",
        "restore1": ("Les sauvegardes, la plus récente en premier (date, taille, partitions ; F1 "
                     "donne le disque d'origine) :"),
        "restore2": "Le disque cible ; celui d'où vient la sauvegarde est en tête :",
        "restore3": ("Les partitions à restaurer ; la table de partitions n'est réécrite que si "
                     "on le demande (disque neuf ou remplacé) :"),
        "restore4": ("Une restauration du disque entier (avec la table) demande de taper le nom "
                     "du disque : jamais à une touche d'un effacement :"),
        "deploy": "## Déploiement",
        "deploy1": "Synchrone (tous les clients ensemble) ou asynchrone (chacun à son rythme) :",
        "deploy2": "Les sept procédures, chacune suivie de son synoptique :",
        "deploy3": "Un synoptique (aide_restaure) :",
        "deploy4": "Une procédure choisie, la sauvegarde à envoyer (la plus récente en premier) :",
        "deploy5": ("Puis le nombre de clients, l'attente, le réseau et ce que font les clients "
                    "à la fin ; après confirmation, le tableau des clients en direct (adresse "
                    "MAC, IP, état, pourcentage, Mo/s) ; à la fin, un rapport (Markdown et JSON) "
                    "est écrit dans la sauvegarde, dossier logs/ :"),
        "tools": "## Outils",
        "tools1": ("Préparer un disque, gparted, disque_usb, OSCAR_déploie, GRUB, Supprimer une "
                   "sauvegarde (quand le disque des sauvegardes est plein), Journaux, Shell, "
                   "Redémarrer et Éteindre :"),
        "grub1": ("GRUB : le menu de démarrage du PC (ses systèmes, puis « OSCAR » et "
                  "« restaure » protégés par le mot de passe), sur un disque qui a une partition "
                  "OSCAR ; la première fois, le mot de passe est demandé deux fois, puis le plan "
                  "s'affiche (voir docs/boot-menu.md) :"),
        "prepare1": ("Préparer un disque : le disque à préparer (tout son contenu sera effacé ; "
                     "le disque qui contient les sauvegardes est refusé) :"),
        "prepare2": ("L'organisation, comme dans la présentation d'origine : Windows seul, Linux "
                     "seul ou double démarrage, chacun avec la partition OSCAR ; ou à la main "
                     "(gparted s'il y a un affichage graphique, cfdisk sinon) :"),
        "prepare3": "Le type de table (MBR pour les PC BIOS, GPT pour les PC UEFI) :",
        "prepare4": "Le plan ; il faut taper le nom du disque pour confirmer :",
        "errors": "## Quand quelque chose ne va pas",
        "errors1": ("Une erreur dit ce qui ne va pas, ce qu'il faut faire, et où est le journal ; "
                    "OK ramène au menu :"),
        "password": "## Mot de passe",
        "password1": ("`oscar password` définit le mot de passe (seule son empreinte PBKDF2 est "
                      "enregistrée, au format de GRUB, dans /etc/oscar/oscar.yaml). Le menu le "
                      "demande alors au démarrage :"),
        "r_title": "# Après un virus : choisissez « restaure »",
        "r_intro": ("Votre PC ne marche plus bien (virus, fichiers abîmés, réglages cassés) ? "
                    "OSCAR le remet dans l'état où le technicien l'a sauvegardé. Vous n'avez "
                    "rien à décider."),
        "r_steps": ("1. Redémarrez le PC.\n2. Dans le menu qui apparaît au démarrage, choisissez "
                    "**restaure** avec les flèches, puis appuyez sur Entrée.\n3. À « Enter "
                    "username: », tapez **oscar** puis Entrée ; à « Enter password: », tapez le mot "
                    "de passe que le technicien vous a donné (rien ne s'affiche), puis Entrée.\n"
                    "4. Cet écran apparaît. "
                    "Ne touchez à rien : la restauration commence seule après 10 secondes."),
        "r_stop": ("Si vous avez choisi « restaure » par erreur, appuyez sur n'importe quelle "
                   "touche pendant le compte à rebours : rien n'est modifié."),
        "r_done": ("Quand c'est fini, le PC redémarre tout seul sur Windows (ou Linux). Les "
                   "fichiers créés depuis la sauvegarde sur ces partitions sont perdus : "
                   "rangez vos documents sur le réseau ou une clé."),
        "r_none": "S'il n'y a pas de sauvegarde, OSCAR le dit simplement :",
        "r_progress": ("Une fois la restauration arrêtée, Entrée redémarre le PC sans rien "
                       "restaurer ; « Restaurer maintenant » relance la restauration. Pendant la "
                       "restauration, l'écran dit combien de temps il reste :"),
    },
    "en": {
        "title": "# OSCAR user guide (technicians)",
        "intro": ("The OSCAR menu starts from the OSCAR USB key, from the PXE server, or from "
                  "the \"OSCAR\" entry of the PC's boot menu (`oscar tui` on a command line). "
                  "Everything is done with the keyboard on an 80x24 screen: arrows to move, "
                  "Enter to choose, Esc to go back, F1 for the help of the selected item; an "
                  "item's first letter jumps to it. The screens below are captures of the real "
                  "menu (a classroom PC: Windows, Linux, swap and the OSCAR partition; the "
                  "OSCAR key itself is never offered). Set LANG=en for English."),
        "main": "## The main menu",
        "help": "F1 shows the help of the selected item:",
        "save": "## Save (Sauvegarde)",
        "save1": "Choose the disk to save (the boot medium is not offered):",
        "save2": ("Partitions with a known filesystem are checked; swap is recorded, not saved; "
                  "the OSCAR partition holds the backups and is not offered. Space checks or "
                  "unchecks, End goes to Continue:"),
        "save3": ("Method, compression and name (default: the date and the computer's name read "
                  "from Windows or Linux):"),
        "save4": ("The plan: every step, the disk named by its identity. Nothing is written "
                  "before \"Confirm\":"),
        "save5": ("Progress: the plan's step, percent, rate, elapsed and remaining time. Esc asks "
                  "before cancelling; a cancelled backup never appears, the others stay intact:"),
        "save6": "A backup appears only once complete and read back from the disk:",
        "restore": "## Restore (Restauration)",
        "restore1": "The backups, newest first (date, size, partitions; F1 names the source disk):",
        "restore2": "The target disk; the one the backup came from comes first:",
        "restore3": ("The partitions to restore; the partition table is rewritten only when asked "
                     "(new or replaced disk):"),
        "restore4": ("A whole-disk restore (with the table) asks to type the disk's name: never "
                     "one key away from erasing a disk:"),
        "deploy": "## Deployment (Déploiement)",
        "deploy1": "Synchronous (all clients together) or asynchronous (each at its own pace):",
        "deploy2": "The seven procedures, each followed by its synopsis:",
        "deploy3": "A synopsis (aide_restaure):",
        "deploy4": "A procedure chosen, the backup to send (newest first):",
        "deploy5": ("Then the number of clients, the wait, the network and what the clients do "
                    "at the end; once confirmed, the live table of the clients (MAC address, IP, "
                    "state, percent, MB/s); at the end a report (Markdown and JSON) is written "
                    "into the backup's logs/ folder:"),
        "tools": "## Tools (Outils)",
        "tools1": ("Prepare a disk, gparted, disque_usb, OSCAR_déploie, GRUB, Delete a backup "
                   "(when the backup disk is full), Logs, Shell, Reboot and Power off:"),
        "grub1": ("GRUB: the PC's boot menu (its systems, then \"OSCAR\" and \"restaure\" "
                  "behind the password), on a disk with an OSCAR partition; the first time the "
                  "password is asked twice, then the plan is shown (see docs/boot-menu.md):"),
        "prepare1": ("Prepare a disk: the disk to prepare (everything on it is erased; the disk "
                     "holding the backups is refused):"),
        "prepare2": ("The layout, as in the original presentation: Windows only, Linux only or "
                     "dual boot, each with the OSCAR partition; or by hand (gparted when a "
                     "display exists, cfdisk otherwise):"),
        "prepare3": "The table type (MBR for BIOS PCs, GPT for UEFI PCs):",
        "prepare4": "The plan; typing the disk's name confirms it:",
        "errors": "## When something goes wrong",
        "errors1": ("An error says what is wrong, what to do and where the log is; OK goes back "
                    "to the menu:"),
        "password": "## Password",
        "password1": ("`oscar password` sets the password (only its PBKDF2 hash is stored, in "
                      "GRUB's format, in /etc/oscar/oscar.yaml). The menu then asks for it:"),
        "r_title": "# After a virus: choose \"restaure\"",
        "r_intro": ("Your PC does not work properly any more (virus, damaged files, broken "
                    "settings)? OSCAR puts it back as the technician saved it. You have nothing "
                    "to decide."),
        "r_steps": ("1. Restart the PC.\n2. In the menu shown at start-up, choose **restaure** "
                    "with the arrows, then press Enter.\n3. At \"Enter username:\" type **oscar** "
                    "then Enter; at \"Enter password:\" type the password the technician gave you "
                    "(nothing shows), then Enter.\n4. This screen appears. Touch nothing: the "
                    "restore starts "
                    "by itself after 10 seconds."),
        "r_stop": ("If you chose \"restaure\" by mistake, press any key during the countdown: "
                   "nothing is changed."),
        "r_done": ("When it is done, the PC restarts by itself into Windows (or Linux). Files "
                   "created on these partitions since the backup are lost: keep your documents "
                   "on the network or a USB key."),
        "r_none": "When there is no backup, OSCAR says so plainly:",
        "r_progress": ("Once stopped, Enter restarts the PC without restoring anything; "
                       "\"Restore now\" starts the restore again. While it restores, the "
                       "screen says how long is left:"),
    },
}


def kiosk_title(lang: str) -> str:
    return {"fr": "Restauration de ce PC", "en": "Restoring this PC"}[lang]


def press_until(app: App, label: str) -> None:
    for _step in range(40):
        if any(line.startswith(">") and label in line for line in app.screen_text().splitlines()):
            return
        app.press("down")
    raise SystemExit(f"no row {label!r}:\n{app.screen_text()}")


def guide(lang: str, store: Path) -> tuple[str, str]:
    t = TEXT[lang]
    out = [t["title"], "", t["intro"], "", t["main"], ""]
    app = App(headless=True)
    ctx = Context(app, store, machine())
    actions.open_menu(ctx, "main")
    out += [capture(app), t["help"], ""]
    app.press("f1")
    out.append(capture(app))
    app.press("esc")

    out += [t["save"], "", t["save1"], ""]
    app.press("enter")
    out.append(capture(app))
    app.press("enter")
    out += [t["save2"], "", capture(app)]
    app.press("end", "enter")
    out += [t["save3"], "", capture(app)]
    app.press("end", "enter")
    out += [t["save4"], "", capture(app)]
    state = widgets.ProgressState(
        title=app.current.title, label="partition 1 (ntfs)", fraction=0.42, step_fraction=0.6,
        rate={"fr": "61,3 Mo/s", "en": "61.3 MB/s"}[lang], elapsed="0:04:31",
        remaining_seconds=374)
    state.title = {"fr": "Sauvegarde de /dev/sda", "en": "Saving /dev/sda"}[lang]
    state.step = {"fr": "Étape 2/5 : Sauvegarder la partition 1 (ntfs, Windows) avec ntfsclone",
                  "en": "Step 2/5: Save partition 1 (ntfs, Windows) with ntfsclone"}[lang]
    app.push(Screen(state.title, widgets.ProgressView(state),
                    keys={"fr": "Échap : arrêter", "en": "Esc: stop"}[lang]))
    out += [t["save5"], "", capture(app)]
    app.back_to(1)
    app.message(app.stack[0].title, {"fr": "Sauvegarde complète et vérifiée : ",
                                     "en": "Backup complete and verified: "}[lang]
                + str(store / "2026-11-27-SALLE-B12-PC07"), style="ok")
    out += [t["save6"], "", capture(app)]
    app.back_to(1)

    out += [t["restore"], "", t["restore1"], ""]
    app.press("r", "enter")
    out.append(capture(app))
    app.press("enter")
    out += [t["restore2"], "", capture(app)]
    app.press("enter")
    out += [t["restore3"], "", capture(app)]
    app.press("down", "down", " ", "end", "enter")
    out += [t["restore4"], "", capture(app)]
    app.back_to(1)

    out += [t["deploy"], "", t["deploy1"], ""]
    app.press("d", "enter")
    out.append(capture(app))
    app.press("enter")
    out += [t["deploy2"], "", capture(app)]
    app.press("down", "enter")
    out += [t["deploy3"], "", capture(app)]
    app.press("esc", "up", "enter")
    out += [t["deploy4"], "", capture(app)]
    room = Room()
    for number, (state_name, percent) in enumerate(
            (("writing", 64.0), ("writing", 63.5), ("receiving", 12.0), ("failed", 0.0)), 2):
        mac = f"52:54:00:12:34:{number:02x}"
        room.register(mac, f"10.0.0.{number}", "multicast")
        if state_name == "failed":
            room.clients[mac].last_seen = time.time() - 60  # went silent
            continue
        room.report(mac, {"state": state_name, "percent": percent,
                          "rate": 11.2e6 if percent else 0.0,
                          "error": ""})
    room.mark_lost()
    phase = {"fr": "Multicast : 64 % envoyés", "en": "Multicast: 64 % sent"}[lang]
    state = widgets.ProgressState(
        title={"fr": "Déploiement de 2026-11-27-SALLE-B12-PC07",
               "en": "Deployment of 2026-11-27-SALLE-B12-PC07"}[lang],
        label={"fr": "clients terminés", "en": "clients done"}[lang],
        fraction=0.25, elapsed="0:03:12", table=render_table(room.snapshot(), phase))
    app.push(Screen(state.title, widgets.ProgressView(state),
                    keys={"fr": "Échap : arrêter", "en": "Esc: stop"}[lang]))
    out += [t["deploy5"], "", capture(app)]
    app.back_to(1)

    out += [t["tools"], "", t["tools1"], ""]
    app.press({"fr": "o", "en": "t"}[lang], "enter")  # Outils / Tools
    out.append(capture(app))
    app.press("enter")
    out += [t["prepare1"], "", capture(app)]
    press_until(app, "sdc")
    app.press("enter")
    out += [t["prepare2"], "", capture(app)]
    app.press("d", "enter")
    out += [t["prepare3"], "", capture(app)]
    app.press("enter")
    out += [t["prepare4"], "", capture(app)]
    app.back_to(1)
    app.press({"fr": "o", "en": "t"}[lang], "enter", "g", "enter")  # Outils / Tools > GRUB
    out += [t["grub1"], "", capture(app)]
    app.back_to(1)

    out += [t["errors"], "", t["errors1"], ""]
    app.error(BackupInvalid(*{
        "fr": ("Somme de contrôle fausse pour sda1.ntfs-img.",
               "La sauvegarde est abîmée ; utilisez une autre copie."),
        "en": ("Checksum mismatch in sda1.ntfs-img.", "The backup is damaged; use another copy."),
    }[lang]))
    out.append(capture(app))

    out += [t["password"], "", t["password1"], ""]
    locked = App(headless=True)
    ask_password(locked, config.Config(password_hash=config.hash_password("example")),
                 lambda: None)
    out.append(capture(locked))

    teachers = [t["r_title"], "", t["r_intro"], "", t["r_steps"], ""]
    # Each restaure below is its own "PC": its own session lock.
    os.environ["OSCAR_LOCK_DIR"] = str(store.parent / f"locks-{lang}-1")
    kiosk = App(config.Config(reboot_command=["true"]), headless=True)
    flow = RestaureFlow(kiosk, str(store), machine())
    flow.start()
    teachers += [capture(kiosk), t["r_stop"], ""]
    kiosk.press(" ")
    teachers += [capture(kiosk), t["r_progress"], ""]
    state = widgets.ProgressState(title=kiosk_title(lang), fraction=0.44, plain=True,
                                  remaining_seconds=372)
    kiosk.push(Screen(kiosk_title(lang), widgets.ProgressView(state),
                      keys={"fr": "Échap : arrêter", "en": "Esc: stop"}[lang]))
    teachers += [capture(kiosk), t["r_done"], "", t["r_none"], ""]
    os.environ["OSCAR_LOCK_DIR"] = str(store.parent / f"locks-{lang}-2")
    empty = store.parent / "empty"
    empty.mkdir(exist_ok=True)
    nothing = App(config.Config(reboot_command=["true"]), headless=True)
    RestaureFlow(nothing, str(empty), machine()).start()
    teachers.append(capture(nothing))
    return "\n".join(out), "\n".join(teachers)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="oscar-guide-") as tmp:
        store = Path(tmp) / "store-sda4"
        store.mkdir()
        example_store(store, machine()[0])
        for lang in ("fr", "en"):
            os.environ["OSCAR_LANG"] = lang
            i18n.reset()
            technicians, teachers = guide(lang, store)
            # On a PC the store is the OSCAR partition mounted by the menu at /run/oscar.
            technicians = technicians.replace(tmp, "/run/oscar")
            teachers = teachers.replace(tmp, "/run/oscar")
            (ROOT / f"docs/guide-{lang}.md").write_text(technicians, encoding="utf-8")
            (ROOT / f"docs/restaure-{lang}.md").write_text(teachers, encoding="utf-8")
            print(f"wrote docs/guide-{lang}.md and docs/restaure-{lang}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
