"""SSH addresses, host key fingerprints as OpenSSH prints them, the pace of a limited
transfer (pure code and ssh-keygen)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from oscar.core.errors import UsageError
from oscar.net.ssh.remote import Remote, fingerprint, parse_url
from oscar.net.ssh.transfer import _Pace

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url, expected, known", [
    ("ssh://oscar@10.0.0.5/srv/oscar", Remote("oscar", "10.0.0.5", 22, "/srv/oscar"),
     "10.0.0.5"),
    ("ssh://root@nas.college.local:2222/volume1/oscar/",
     Remote("root", "nas.college.local", 2222, "/volume1/oscar"), "[nas.college.local]:2222"),
    ("ssh://u@[fd00::5]:22/b", Remote("u", "[fd00::5]", 22, "/b"), "fd00::5"),
])
def test_addresses(url: str, expected: Remote, known: str) -> None:
    remote = parse_url(url)
    assert remote == expected and remote.known_hosts_name == known
    assert parse_url(str(remote)) == remote


@pytest.mark.parametrize("url", ["scp://u@h/x", "ssh://h/x", "ssh://u@h:0/x", "ssh://u@h:70000/x",
                                 "ssh://u@h", "ssh://u@h:22", "ssh://u@h/a b"])
def test_bad_addresses(url: str) -> None:
    with pytest.raises(UsageError, match="not an SSH address"):
        parse_url(url)


def test_fingerprints_read_as_ssh_keygen_prints_them(tmp_path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    printed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{key}.pub"],
                             capture_output=True, text=True, check=True).stdout.split()[1]
    assert fingerprint(paramiko.Ed25519Key.from_private_key_file(str(key))) == printed


def test_a_limited_transfer_keeps_its_pace() -> None:
    pace = _Pace(4 << 20)
    began = time.monotonic()
    for _block in range(4):
        pace(1 << 20)  # 4 MiB at 4 MiB/s: about one second
    assert time.monotonic() - began >= 0.9  # a lower bound only: sleeping guarantees it
