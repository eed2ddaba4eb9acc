"""Déploiement over a real network: network namespaces joined by a bridge, one server and
four clients, each client with its own loop disk; udpcast (multicast) and lighttpd (HTTP)
for real. Every client's partitions are checked file by file against the model PC."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.engine.mount import mounted
from tests.conftest import (
    LAB_SIZE,
    LabDisks,
    flip_a_byte,
    fs_clean,
    hash_device,
    make_lab,
    oscar,
    sh,
    snapshot_partition,
)
from tests.netbed import ROOT, Netbed, netbed

pytestmark = pytest.mark.net
BACKUP = "salle1"
# Too small for the model's table even scaled down: its OSCAR partition alone (kept at its
# size) is bigger. A 0.7x client receives a fitted layout (test_clients_of_other_sizes...).
SMALL = 300 << 20
DATA = ((1, "ntfs"), (2, "ext4"))  # the model's Windows and Linux partitions


@dataclass
class Room:
    lab: LabDisks
    bed: Netbed
    disks: list[str]  # per client index 1..4 (4: a small disk)
    model: dict[int, dict[str, tuple[object, ...]]]
    table: str  # the model's partition table (sfdisk -d)
    tmp: Path


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    tmp = tmp_path_factory.mktemp("deploy")
    small = tmp / "small.img"
    with make_lab(tmp / "lab", gpt=False, clients=3) as lab, netbed(4) as bed:
        with small.open("wb") as fh:
            fh.truncate(SMALL)
        small_disk = sh("losetup", "--find", "--show", str(small)).stdout.strip()
        try:
            saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name",
                          BACKUP, "--yes")
            assert saved.returncode == 0, saved.stderr
            model = {n: snapshot_partition(partition_path(lab.model, n), fs) for n, fs in DATA}
            table = sh("sfdisk", "-d", lab.model).stdout
            yield Room(lab, bed, [*lab.clients, small_disk], model, table, tmp)
        finally:
            sh("losetup", "-d", small_disk, check=False)


def blank(disk: str) -> None:
    sh("wipefs", "-a", "-q", disk, check=False)
    sh("dd", "if=/dev/zero", f"of={disk}", "bs=1M", "count=2", "conv=fsync", "status=none")
    sh("partx", "-d", disk, check=False)


def with_table(room: Room, disk: str, *, oscar_fs: bool = True) -> None:
    """A client as a technician left it: the model's table and an empty OSCAR partition."""
    blank(disk)
    sh("sfdisk", "--quiet", disk, input=room.table.replace(room.lab.model, disk))
    sh("partx", "-u", disk, check=False)
    sh("partx", "-a", disk, check=False)
    if oscar_fs:
        sh("mkfs.ext4", "-q", "-F", "-L", "OSCAR", partition_path(disk, 4))


def assert_like_model(room: Room, disk: str) -> None:
    for number, fstype in DATA:
        device = partition_path(disk, number)
        fs_clean(device, fstype)
        assert snapshot_partition(device, fstype) == room.model[number], (disk, number)


def stored_copy(disk: str) -> list[str]:
    """The backups on the client's OSCAR partition, verified by `oscar verify`."""
    with mounted(partition_path(disk, 4), "ext4") as point:
        names = sorted(p.name for p in point.iterdir() if p.name == BACKUP)
        for name in names:
            result = oscar("verify", str(point / name))
            assert result.returncode == 0, result.stdout + result.stderr
        return names


def deploy(room: Room, procedure: str, mode: str, clients: list[int], *,
           store: Path | None = None, server: int = 0, wanted: int | None = None,
           max_wait: int = 60, extra: tuple[str, ...] = (), late: list[int] | None = None,
           during: object = None) -> tuple[int, dict[str, object], list[str]]:
    """Start the server in its namespace, then the clients (the late ones once the server
    has begun sending); returns the server's exit code, its JSON report and the logs."""
    bed, tmp = room.bed, room.tmp
    stamp = f"{procedure}-{mode}-{time.monotonic_ns()}"
    server_log = tmp / f"server-{stamp}.log"
    send = bed.oscar(server, "deploy", "send", "--procedure", procedure, "--store",
                     str(store or room.lab.store), "--name", BACKUP, "--mode", mode,
                     "--clients", str(wanted or len(clients) + len(late or [])),
                     "--max-wait", str(max_wait), "--interface", "eth0", "--yes", *extra,
                     log=server_log)
    _wait_for(server_log, "start the clients now", send)
    receivers = {}
    for index in clients:
        receivers[index] = bed.oscar(index, "-v", "deploy", "receive", "--interface", "eth0",
                                     "--disk", room.disks[index - 1], "--listen", "60",
                                     log=tmp / f"client{index}-{stamp}.log")
    if late:
        _wait_for(server_log, "Multicast:" if mode == "multicast" else "receiving", send)
        for index in late:
            receivers[index] = bed.oscar(index, "-v", "deploy", "receive", "--interface",
                                         "eth0", "--disk", room.disks[index - 1], "--listen",
                                         "60", log=tmp / f"client{index}-{stamp}.log")
    if callable(during):
        during(server_log, send)
    for proc in receivers.values():
        proc.wait(timeout=600)
    code = send.wait(timeout=600)
    assert_nothing_left(room)
    logs = [server_log.read_text()] + [
        (tmp / f"client{i}-{stamp}.log").read_text() for i in receivers]
    report_line = [line for line in logs[0].splitlines() if line.startswith("Report: ")
                   and line.endswith(".json")]
    assert report_line, logs[0]
    report = json.loads(Path(report_line[0].split(": ", 1)[1]).read_text())
    return code, report, logs


def assert_nothing_left(room: Room) -> None:
    """No udp-sender, udp-receiver, lighttpd or oscar left in any namespace of the room, and
    no mount left by a client (its namespace's mounts die with it; the host's are checked)."""
    for index in range(len(room.disks) + 1):
        pids = sh("ip", "netns", "pids", room.bed.host(index)).stdout.split()
        names = [Path(f"/proc/{p}/comm").read_text().strip() for p in pids
                 if Path(f"/proc/{p}/comm").exists()]
        assert names == [], (index, names)
    mounts = Path("/proc/self/mounts").read_text()
    assert "/run/oscar/deploy" not in mounts, mounts


def _wait_for(log: Path, text: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists() and text in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"server ended: {log.read_text()}")
        time.sleep(0.2)
    raise AssertionError(f"'{text}' never came: {log.read_text()}")


def results(report: dict[str, object]) -> dict[str, str]:
    clients = report["clients"]
    assert isinstance(clients, list)
    return {c["ip"]: c["result"] for c in clients}


def by_ip(room: Room, report: dict[str, object], index: int) -> dict[str, object]:
    clients = report["clients"]
    assert isinstance(clients, list)
    found = [c for c in clients if c["ip"] == room.bed.address(index)]
    assert len(found) == 1, clients
    return dict(found[0])


def test_complete_multicast_with_a_late_client_then_the_cascade(room: Room) -> None:
    for disk in room.disks[:3]:
        blank(disk)
    code, report, logs = deploy(room, "complète", "multicast", [1, 2], late=[3], max_wait=15)
    assert code == 0, "\n".join(logs)
    for index in (1, 2, 3):
        client = by_ip(room, report, index)
        assert client["result"] == "done", client
        assert client["mode"] == ("http" if index == 3 else "multicast"), client
        assert_like_model(room, room.disks[index - 1])
        assert stored_copy(room.disks[index - 1]) == [BACKUP]
    # The cascade: client 1 is the server of the next room, from its own OSCAR partition.
    for disk in room.disks[1:3]:
        with_table(room, disk)
    store = room.tmp / "client1-store"
    store.mkdir(exist_ok=True)
    sh("mount", partition_path(room.disks[0], 4), str(store))
    try:
        code, report, logs = deploy(room, "simple", "multicast", [2, 3], store=store,
                                    server=1)
    finally:
        sh("umount", str(store))
    assert code == 0, "\n".join(logs)
    assert set(results(report).values()) == {"done"}
    for disk in room.disks[1:3]:
        assert_like_model(room, disk)
        assert stored_copy(disk) == [BACKUP]


def _kill_udp_receiver(room: Room, index: int) -> None:
    ns = room.bed.host(index)
    for _ in range(300):
        pids = sh("ip", "netns", "pids", ns).stdout.split()
        for pid in pids:
            comm = Path(f"/proc/{pid}/comm")
            if comm.exists() and comm.read_text().strip() == "udp-receiver":
                io = Path(f"/proc/{pid}/io").read_text()
                written = int(io.split("wchar: ")[1].split()[0])
                if written > 4 << 20:  # midway: several MB already passed on
                    os.kill(int(pid), 9)
                    return
        time.sleep(0.1)
    raise AssertionError("no udp-receiver to kill")


def test_restaure_multicast_a_receiver_killed_midway_catches_up(room: Room) -> None:
    for disk in room.disks[:3]:
        with_table(room, disk)

    def kill_third(log: Path, send: subprocess.Popen[str]) -> None:
        _wait_for(log, "Multicast:", send)
        _kill_udp_receiver(room, 3)

    code, report, logs = deploy(room, "restaure", "multicast", [1, 2, 3],
                                extra=("--max-bitrate", "40m"), during=kill_third)
    assert code == 0, "\n".join(logs)
    for index in (1, 2):
        assert by_ip(room, report, index)["mode"] == "multicast"
    third = by_ip(room, report, 3)
    assert third["result"] == "done" and third["mode"] == "http", third
    assert third["attempts"] == 2 and "failed" in str(third["earlier"]), third
    assert "Dropping client" not in logs[0]
    assert "catching up by HTTP" in logs[3]
    for disk in room.disks[:3]:
        assert_like_model(room, disk)


def test_a_client_disk_too_small_is_refused_and_the_others_go_on(room: Room) -> None:
    for disk in room.disks[:2]:
        blank(disk)
    blank(room.disks[3])
    code, report, logs = deploy(room, "formate", "unicast", [1, 2, 4], max_wait=10)
    assert code == 10, "\n".join(logs)  # not every client received it
    small = by_ip(room, report, 4)
    assert small["result"] == "refused" and "too small" in str(small["error"]), small
    assert "too small" in logs[3]
    assert sh("sfdisk", "-d", room.disks[3], check=False).returncode != 0  # nothing written
    assert sh("cmp", "-s", "-n", str(SMALL), room.disks[3], "/dev/zero",
              check=False).returncode == 0


def test_a_refused_client_does_not_hold_the_multicast_room(room: Room) -> None:
    """A refusal is a final answer: the session starts once the others are ready and ends
    once they are done, not after --max-wait; the words fit what each person can do."""
    for disk in room.disks[:2]:
        blank(disk)
    blank(room.disks[3])
    began = time.monotonic()
    code, report, logs = deploy(room, "formate", "multicast", [1, 2, 4], max_wait=300)
    elapsed = time.monotonic() - began
    assert code == 10, "\n".join(logs)
    assert results(report) == {room.bed.address(1): "done", room.bed.address(2): "done",
                               room.bed.address(4): "refused"}
    assert elapsed < 300, elapsed  # it waited for nobody: --max-wait never ran out
    server, small = logs[0], logs[3]
    assert "Clients that received the backup: 2 of 3; refused: 1." in server
    assert "procedure formate" in server and "catch up by unicast" not in server
    assert "--parts" not in small and "--resize-oscar" not in small and "formate" in small
    # the line above the table tells the truth: catching up only while a client does
    catching_up = any(c["mode"] == "http" for c in report["clients"])  # type: ignore[union-attr]
    assert ("Serving the clients that catch up" in server) == catching_up, server
    assert "Finished: 2 done, 0 failed, 1 refused" in server
    assert "Dropping client" not in server  # udpcast's own words stay in the log


def test_clients_of_other_sizes_receive_a_fitted_layout(room: Room) -> None:
    """A 0.7x and a 1.5x client in one multicast formate: each fits the model's table to its
    disk (block images shrunk or grown, the OSCAR partition at its size), the files intact."""
    sizes = {1: int(LAB_SIZE * 0.7) >> 20 << 20, 2: int(LAB_SIZE * 1.5) >> 20 << 20}
    saved = list(room.disks)
    devices = []
    try:
        for index, size in sizes.items():
            image = room.tmp / f"sized-{index}.img"
            with image.open("wb") as fh:
                fh.truncate(size)
            devices.append(sh("losetup", "--find", "--show", str(image)).stdout.strip())
            room.disks[index - 1] = devices[-1]
        code, report, logs = deploy(room, "formate", "multicast", [1, 2])
        assert code == 0, "\n".join(logs)
        model = {int(line.split(":")[0].strip()[-1]): line for line in room.table.splitlines()
                 if " : " in line}
        model_oscar = int(model[4].split("size=")[1].split(",")[0])
        for index, size in sizes.items():
            disk = room.disks[index - 1]
            assert by_ip(room, report, index)["result"] == "done"
            assert_like_model(room, disk)
            rows = json.loads(sh("sfdisk", "-J", disk).stdout)["partitiontable"]["partitions"]
            assert rows[3]["size"] == model_oscar
            assert (rows[3]["start"] + rows[3]["size"]) * 512 <= size
            model_windows = int(model[1].split("size=")[1].split(",")[0])
            assert (rows[0]["size"] < model_windows) == (index == 1)
            assert (rows[0]["size"] > model_windows) == (index == 2)
    finally:
        for device in devices:
            sh("partx", "-d", device, check=False)
            sh("losetup", "-d", device, check=False)
        room.disks[:] = saved
    for index in (1, 2):
        assert by_ip(room, report, index)["result"] == "done"
        assert_like_model(room, room.disks[index - 1])


@pytest.mark.parametrize("procedure,mode", [
    ("restaure", "unicast"), ("simple", "unicast"), ("formate", "multicast"),
    ("complète", "unicast"), ("petite", "multicast"), ("petite", "unicast"),
    ("table", "multicast"), ("table", "unicast"), ("disque", "multicast"),
    ("disque", "unicast"),
])
def test_every_procedure_in_both_modes(room: Room, procedure: str, mode: str) -> None:
    needs_table = procedure in ("restaure", "simple", "petite")
    for disk in room.disks[:3]:
        with_table(room, disk) if needs_table else blank(disk)
    extra: tuple[str, ...] = ("--disk", room.lab.model) if procedure == "disque" else ()
    code, report, logs = deploy(room, procedure, mode, [1, 2, 3], extra=extra)
    assert code == 0, "\n".join(logs)
    assert set(results(report).values()) == {"done"}, report
    for disk in room.disks[:3]:
        if procedure in ("restaure", "simple", "formate", "complète", "disque"):
            assert_like_model(room, disk)
        if procedure in ("simple", "complète", "petite"):
            assert stored_copy(disk) == [BACKUP]
        if procedure == "petite":  # sent, nothing restored: the partitions are still empty
            found = sh("blkid", "-p", "-o", "value", "-s", "TYPE", partition_path(disk, 1),
                       check=False)
            assert found.stdout.strip() == "", found.stdout
        if procedure == "table":  # the model's partitions, formatted, empty
            for number, fstype in DATA:
                info = sh("blkid", "-p", "-o", "export", partition_path(disk, number)).stdout
                assert f"TYPE={fstype}" in info, info
                with mounted(partition_path(disk, number), fstype, readonly=True) as point:
                    assert not [p for p in point.iterdir()
                                if p.name not in ("lost+found", "System Volume Information",
                                                  "$RECYCLE.BIN")]
        if procedure in ("formate", "complète", "table", "disque"):
            dumped = sh("sfdisk", "-d", disk).stdout
            assert dumped.replace(disk, "D").split("\n", 2)[2] == \
                room.table.replace(room.lab.model, "D").split("\n", 2)[2]


def test_refusals_say_why_and_write_nothing(room: Room) -> None:
    bed = room.bed
    cases = [
        (("--store", str(room.tmp / "nowhere"), "--name", BACKUP), "does not exist"),
        (("--store", str(room.lab.store), "--name", "nothing"), "No backup named"),
    ]
    for args, message in cases:
        proc = bed.oscar(0, "deploy", "send", "--procedure", "restaure", *args,
                         "--interface", "eth0", "--clients", "1")
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 2 and message in out and "hint:" in out, out
    # an interface with no address, on both sides
    sh("ip", "-n", bed.host(1), "addr", "flush", "dev", "eth0")
    try:
        for verb in (("send", "--procedure", "restaure", "--store", str(room.lab.store),
                      "--name", BACKUP), ("receive", "--disk", room.disks[0])):
            proc = bed.oscar(1, "deploy", *verb, "--interface", "eth0")
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 2 and "has no address" in out, out
    finally:
        sh("ip", "-n", bed.host(1), "addr", "add", f"{bed.address(1)}/24", "brd", "+",
           "dev", "eth0")
        sh("ip", "-n", bed.host(1), "route", "replace", "224.0.0.0/4", "dev", "eth0")


def test_a_damaged_backup_is_refused_by_the_server(room: Room) -> None:
    """One flipped byte in an image: the server refuses before any client is started."""
    damaged = room.tmp / "damaged-store"
    damaged.mkdir()
    sh("cp", "-a", str(room.lab.store / BACKUP), str(damaged / BACKUP))
    flip_a_byte(sorted((damaged / BACKUP).glob("*p2.*-ptcl-img.*"))[0])
    proc = room.bed.oscar(0, "deploy", "send", "--procedure", "restaure", "--store",
                          str(damaged), "--name", BACKUP, "--interface", "eth0")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 6 and "Checksum mismatch" in out and "hint:" in out, out
    assert "start the clients now" not in out


def test_a_table_that_would_overwrite_the_clients_oscar_partition_is_refused(
        room: Room) -> None:
    """A client whose disk holds its own OSCAR store where the server's table puts Windows:
    refused, its backups untouched; the other client goes on."""
    disk = room.disks[1]
    blank(disk)
    blank(room.disks[0])
    sh("sfdisk", "--quiet", disk, input="label: dos\nsize=200MiB, type=83\n")
    sh("partx", "-a", disk, check=False)
    sh("mkfs.ext4", "-q", "-F", "-L", "OSCAR", partition_path(disk, 1))
    with mounted(partition_path(disk, 1), "ext4") as point:
        (point / "precious").write_bytes(os.urandom(1 << 20))
    before = sh("sha256sum", partition_path(disk, 1)).stdout.split()[0]
    code, report, logs = deploy(room, "formate", "unicast", [1, 2], max_wait=10)
    assert code == 10, "\n".join(logs)
    refused = by_ip(room, report, 2)
    assert refused["result"] == "refused" and "holds the backups" in str(refused["error"])
    assert sh("sha256sum", partition_path(disk, 1)).stdout.split()[0] == before
    assert by_ip(room, report, 1)["result"] == "done"


def test_the_tui_deployment_screen_follows_the_room(room: Room) -> None:
    """Déploiement → Synchrone → formate in the menu (headless, in the server's namespace):
    the backup, the options, the confirmation, the live table, the result."""
    for disk in room.disks[:2]:
        blank(disk)
    log = room.tmp / "tui.log"
    driver = subprocess.Popen(
        ["ip", "netns", "exec", room.bed.host(0), str(ROOT / ".venv/bin/python"), "-m",
         "tests.deploy_tui_driver", str(room.lab.store), "formate", "2"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OSCAR_LANG": "en"})
    room.bed.procs.append(driver)  # type: ignore[arg-type]
    _wait_for(log, "SCREEN started", driver)  # type: ignore[arg-type]
    clients = [room.bed.oscar(index, "deploy", "receive", "--interface", "eth0", "--disk",
                              room.disks[index - 1], "--listen", "60",
                              log=room.tmp / f"tui-client{index}.log")
               for index in (1, 2)]
    for proc in clients:
        assert proc.wait(timeout=600) == 0
    assert driver.wait(timeout=600) == 0, log.read_text()
    text = log.read_text()
    screens = dict(part.split("\n", 1) for part in text.split("SCREEN ")[1:])
    assert BACKUP in screens["backups"]
    assert "Number of clients" in screens["options"] and "eth0" in screens["options"]
    assert "procedure formate (multicast) to 2 clients" in screens["confirm"]
    assert "MAC" in screens["table"] and room.bed.address(1) in text
    assert "2 of 2 clients done." in screens["result"], screens["result"]
    for disk in room.disks[:2]:
        assert_like_model(room, disk)
    assert "Not on the OSCAR live system: no reboot." in (
        room.tmp / "tui-client1.log").read_text()
    assert_nothing_left(room)


def test_unicast_resumes_a_cut_transfer(room: Room) -> None:
    """The connection to the HTTP server is torn down midway (ss -K, as a switch reboot or a
    flaky cable does): the client resumes the file where it was cut (Range) and finishes."""
    bed = room.bed
    for disk in room.disks[:1]:
        with_table(room, disk)
    # a slow server port, so that the cut falls in the middle of the NTFS image
    sh("ip", "netns", "exec", bed.host(0), "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
       "rate", "16mbit", "burst", "64kb", "latency", "50ms")
    try:
        def cut(server_log: Path, send: subprocess.Popen[str]) -> None:
            client_log = sorted(room.tmp.glob("client1-restaure-unicast-*.log"))[-1]
            _wait_for(client_log, "pipeline:", send)
            time.sleep(1.5)
            sh("ip", "netns", "exec", bed.host(1), "ss", "-K", "dst", bed.address(0),
               "dport", "=", "7172")

        code, report, logs = deploy(room, "restaure", "unicast", [1], during=cut)
    finally:
        sh("ip", "netns", "exec", bed.host(0), "tc", "qdisc", "del", "dev", "eth0", "root",
           check=False)
    assert code == 0, "\n".join(logs)
    assert "resuming at byte" in logs[1], logs[1]
    assert by_ip(room, report, 1)["result"] == "done"
    assert_like_model(room, room.disks[0])


def test_an_image_damaged_after_the_server_checked_it_fails_the_client(room: Room) -> None:
    """The image changes on the server once the deployment began (a failing disk, someone
    writing): the client finds the checksum wrong at the image's end, reports the failure
    (what it wrote from that image is not called good), and the server says so."""
    store = room.tmp / "tampered-store"
    store.mkdir(exist_ok=True)
    sh("rm", "-rf", str(store / BACKUP))
    sh("cp", "-a", str(room.lab.store / BACKUP), str(store / BACKUP))
    with_table(room, room.disks[0])

    bed = room.bed
    server_log = room.tmp / "tampered-server.log"
    send = bed.oscar(0, "deploy", "send", "--procedure", "restaure", "--store", str(store),
                     "--name", BACKUP, "--mode", "unicast", "--clients", "1", "--max-wait",
                     "10", "--interface", "eth0", log=server_log)
    _wait_for(server_log, "start the clients now", send)
    flip_a_byte(sorted((store / BACKUP).glob("*p2.*-ptcl-img.*"))[0])
    client = bed.oscar(1, "deploy", "receive", "--interface", "eth0", "--disk",
                       room.disks[0], "--listen", "60", log=room.tmp / "tampered-client.log")
    assert client.wait(timeout=600) == 6
    client_log = (room.tmp / "tampered-client.log").read_text()
    assert "arrived damaged" in client_log and "hint:" in client_log, client_log
    assert send.wait(timeout=600) == 10
    text = server_log.read_text()
    assert "| failed |" in text and "arrived damaged" in text, text
    assert_nothing_left(room)


def test_a_client_cut_off_midway_is_dropped_and_catches_up(room: Room) -> None:
    """A cable pulled during the multicast: udp-sender drops that client and the room goes
    on; once the cable is back, the server tells it to catch up, and it does by HTTP."""
    for disk in room.disks[:3]:
        with_table(room, disk)

    def pull_the_cable(log: Path, send: subprocess.Popen[str]) -> None:
        _wait_for(log, "Multicast:", send)
        time.sleep(1.5)
        room.bed.cut(2)
        try:
            _wait_for(log, f"no answer, left out: {room.bed.address(2)}", send, timeout=180)
        finally:
            room.bed.reconnect(2)

    code, report, logs = deploy(room, "restaure", "multicast", [1, 2, 3],
                                extra=("--max-bitrate", "40m"), during=pull_the_cable)
    assert code == 0, "\n".join(logs)
    assert "Dropping client" not in logs[0]  # udpcast's own words: in the log file only
    cut = by_ip(room, report, 2)
    assert cut["result"] == "done" and cut["mode"] == "http" and cut["attempts"] == 2, cut
    for index in (1, 3):
        assert by_ip(room, report, index)["mode"] == "multicast"
    for disk in room.disks[:3]:
        assert_like_model(room, disk)


def test_oscar_deploie_personalises_each_client_from_the_clients_file(room: Room) -> None:
    """Three clients, a clients file with lines for two: each of those gets its own name in
    its SYSTEM hive and its Linux, and its address; the third is left as deployed and the
    report names its MAC."""
    from oscar.engine import registry
    from oscar.ops.personalise import linux, windows

    macs = {i: json.loads(sh("ip", "-n", room.bed.host(i), "-json", "link", "show",
                             "eth0").stdout)[0]["address"] for i in (1, 2, 3)}
    clients_file = room.tmp / "salle12.csv"
    clients_file.write_text(
        "mac,hostname,ip,prefix,gateway,dns,workgroup\n"
        f"{macs[1]},S12-PC01,10.0.12.101,24,10.0.12.254,10.0.0.10,SALLE12\n"
        f"{macs[2]},S12-PC02,dhcp,,,,SALLE12\n")
    code, report, logs = deploy(room, "formate", "multicast", [1, 2, 3],
                                extra=("--clients-file", str(clients_file)))
    assert code == 0, logs[0]
    assert results(report) == {room.bed.address(i): "done" for i in (1, 2, 3)}
    assert report["personalising"] is True
    assert by_ip(room, report, 1)["personalised"] == "S12-PC01"
    assert by_ip(room, report, 2)["personalised"] == "S12-PC02"
    assert by_ip(room, report, 3)["no_line"] is True
    assert f"no line in the clients file: {macs[3]}" in logs[0]
    for index, name in ((1, "S12-PC01"), (2, "S12-PC02")):
        disk = room.disks[index - 1]
        fs_clean(partition_path(disk, 1), "ntfs")
        with mounted(partition_path(disk, 1), "ntfs", readonly=True) as win:
            assert registry.read_string(
                win / windows.SYSTEM, "ControlSet001\\Control\\ComputerName\\ComputerName",
                "ComputerName") == name
        with mounted(partition_path(disk, 2), "ext4", readonly=True) as root:
            assert (root / "etc/hostname").read_text() == name.lower() + "\n"
            assert f"127.0.1.1\t{name.lower()}" in (root / "etc/hosts").read_text()
            assert (root / "etc/machine-id").read_text() == ""
            assert not list((root / "etc/ssh").glob("ssh_host_*"))
            assert (root / linux.FIRSTBOOT_LINK).is_symlink()
            interfaces = (root / "etc/network/interfaces").read_text()
            if index == 1:
                assert "address 10.0.12.101/24" in interfaces and "gateway 10.0.12.254" in interfaces
            else:
                assert "iface enp1s0 inet dhcp" in interfaces
    assert_like_model(room, room.disks[2])  # no line: exactly the model


def test_a_generalized_image_is_personalised_by_unattend_xml(room: Room) -> None:
    """A model PC sealed by sysprep, then saved: the deployed client gets its name, domain
    and address in Windows/Panther/unattend.xml (applied by Windows setup at its first
    boot) and its SYSTEM hive is left exactly as saved."""
    import xml.etree.ElementTree as ET

    from oscar.engine import registry
    from oscar.ops.personalise import windows

    win_dev = partition_path(room.lab.model, 1)
    with mounted(win_dev, "ntfs", readonly=True) as win:
        hive_before = (win / windows.SYSTEM).read_bytes()
    sealed = room.tmp / "sealed-store"
    sealed.mkdir()
    try:
        with mounted(win_dev, "ntfs") as win:
            registry.set_values(win / windows.SYSTEM, {"Setup\\Status\\SysprepStatus": {
                "GeneralizationState": 7}})
            sealed_hive = (win / windows.SYSTEM).read_bytes()
        saved = oscar("save", "--disk", room.lab.model, "--store", str(sealed), "--name",
                      BACKUP, "--yes")
        assert saved.returncode == 0, saved.stderr
    finally:
        with mounted(win_dev, "ntfs") as win:  # the model as the other tests know it
            (win / windows.SYSTEM).write_bytes(hive_before)
    with mounted(partition_path(room.lab.model, 1), "ntfs", readonly=True) as win:
        assert (win / windows.SYSTEM).read_bytes() == hive_before
    with_table(room, room.disks[0])
    mac = json.loads(sh("ip", "-n", room.bed.host(1), "-json", "link", "show",
                        "eth0").stdout)[0]["address"]
    clients_file = room.tmp / "sealed.yaml"
    clients_file.write_text(
        "clients:\n"
        f"  - {{mac: '{mac}', hostname: S12-PROF, ip: 10.0.12.109, prefix: 24,\n"
        "     gateway: 10.0.12.254, dns: 10.0.0.10, domain: college.local, join_user: joinpc}\n")
    code, report, logs = deploy(room, "restaure", "unicast", [1], store=sealed,
                                extra=("--clients-file", str(clients_file)))
    assert code == 0, "\n".join(logs)
    assert by_ip(room, report, 1)["personalised"] == "S12-PROF"
    disk = room.disks[0]
    fs_clean(partition_path(disk, 1), "ntfs")
    with mounted(partition_path(disk, 1), "ntfs", readonly=True) as win:
        unattend = ET.parse(win / windows.UNATTEND).getroot()
        assert not (win / windows.FIRSTBOOT).exists()
        assert (win / windows.SYSTEM).read_bytes() == sealed_hive
    ns = {"u": "urn:schemas-microsoft-com:unattend"}
    found = {tag: [e.text for e in unattend.iterfind(f".//u:{tag}", ns)]
             for tag in ("ComputerName", "JoinDomain", "IpAddress", "NextHopAddress")}
    assert found == {"ComputerName": ["S12-PROF"], "JoinDomain": ["college.local"],
                     "IpAddress": ["10.0.12.109/24", "10.0.0.10"],
                     "NextHopAddress": ["10.0.12.254"]}
    with mounted(partition_path(disk, 2), "ext4", readonly=True) as root:
        assert (root / "etc/hostname").read_text() == "s12-prof\n"


def test_a_bad_clients_file_is_refused_before_any_client_is_written(room: Room) -> None:
    before = [hash_device(d) for d in room.disks[:3]]
    bad = room.tmp / "bad.yaml"
    bad.write_text("clients:\n  - {mac: '52:54:00:00:00:01', hostname: A}\n"
                   "  - {mac: '52:54:00:00:00:01', hostname: 'B B'}\n")
    proc = room.bed.oscar(0, "deploy", "send", "--procedure", "restaure", "--store",
                          str(room.lab.store), "--name", BACKUP, "--clients-file", str(bad),
                          "--yes", log=room.tmp / "bad-clients.log")
    assert proc.wait(timeout=120) == 2
    text = (room.tmp / "bad-clients.log").read_text()
    assert "line 3: MAC address 52:54:00:00:00:01 is already on line 2" in text
    assert "line 3: 'B B' is not a name Windows accepts" in text
    assert [hash_device(d) for d in room.disks[:3]] == before
    assert_nothing_left(room)


def test_a_decrypted_bitlocker_backup_deploys_like_any_ntfs(room: Room) -> None:
    """The model's Windows partition is a BitLocker volume Windows made; saved with its
    password, it deploys to two PCs, each getting plain NTFS with every file."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "bitlocker"
    if not (data / "bitlocker-ntfs.tar.xz").exists():
        pytest.skip(f"{data} is missing")
    volumes = room.tmp / "bitlocker"
    volumes.mkdir(exist_ok=True)
    sh("tar", "-xf", str(data / "bitlocker-ntfs.tar.xz"), "-C", str(volumes))
    model = room.disks[2]
    with_table(room, model)
    sh("dd", f"if={volumes / 'bitlk-ntfs' / 'bitlk-aes-xts-128.img'}",
       f"of={partition_path(model, 1)}", "bs=1M", "conv=notrunc,fsync", "status=none")
    store = room.tmp / "bitlocker-store"
    store.mkdir(exist_ok=True)
    saved = oscar("save", "--disk", model, "--store", str(store), "--name", BACKUP, "--parts",
                  "1", "--bitlocker-key-stdin", "--yes", stdin="anaconda\n")
    assert saved.returncode == 0, saved.stderr
    for disk in room.disks[:2]:
        with_table(room, disk)
    code, report, logs = deploy(room, "restaure", "multicast", [1, 2], store=store)
    assert code == 0, "\n".join(logs)
    assert set(results(report).values()) == {"done"}, report
    listing = (volumes / "bitlk-ntfs" / "bitlk-aes-xts-128.files.sha256").read_text("utf-8")
    expected = sorted(line for line in listing.splitlines() if line)
    for disk in room.disks[:2]:
        device = partition_path(disk, 1)
        assert sh("blkid", "-p", "-o", "value", "-s", "TYPE", device).stdout.strip() == "ntfs"
        with mounted(device, "ntfs", readonly=True) as point:
            found = sh("sh", "-c", "find . -path './System Volume Information' -prune -o "
                       "-type f -print0 | sort -z | xargs -0 sha256sum", cwd=str(point)).stdout
        assert sorted(line for line in found.splitlines() if line) == expected
