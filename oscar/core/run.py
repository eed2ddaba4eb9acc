"""The only module that starts processes.

argv lists only (never shell strings), LC_ALL=C, every command line logged, stderr lines
(split on CR and LF, so progress meters arrive as they are drawn) streamed to a callback,
and one error type carrying argv, exit code and the tail of stderr.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import fcntl
import logging
import os
import re
import select
import shlex
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from oscar.core import cancel
from oscar.core.errors import CommandFailed
from oscar.core.i18n import _
from oscar.core.tools import require

log = logging.getLogger("oscar.run")

LineCallback = Callable[[str], None]
CHUNK = 1 << 20
TAIL_LINES = 15
# A tool's last line is often a progress line, printed after the message that says what went
# wrong (fsarchiver: "...(): cannot restore file X, file is corrupt", then 200 more files).
# The first line that looks like a problem is the one the user needs.
PROBLEM = re.compile(r"corrupt|cannot|can't|error|fail|no space|denied|invalid|not found|"
                     r"bad |abort", re.IGNORECASE)
NOT_PROBLEM = re.compile(r"^-\[\d+\]\[|Elapsed:|current block:|errors?[:=]\s*0\b|"
                         r"files with errors:\.*regfiles=0, directories=0")
SOURCE_PREFIX = re.compile(r"^[\w./-]+\.c#\d+,\w+\(\):\s*")  # fsarchiver's "file.c#12,func(): "


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: str


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    env.pop("LANGUAGE", None)
    # mtools refuses a partition whose geometry it cannot read (loop devices, some USB
    # readers); OSCAR gives it whole FAT partitions, where the check adds nothing.
    env.setdefault("MTOOLS_SKIP_CHECK", "1")
    return env


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _die_with_parent() -> None:
    # A child must not outlive OSCAR (killed, or crashed): an orphan fsarchiver or partclone
    # would go on writing into a backup or a disk that nobody watches any more. SIGTERM, not
    # SIGKILL, so fsarchiver can still unmount its temporary mount.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _resolve(argv: list[str]) -> list[str]:
    return [require(argv[0]), *argv[1:]]


class _StderrReader(threading.Thread):
    """Reads a pipe, splits it into lines on CR or LF, keeps a tail, feeds a callback."""

    def __init__(self, stream: IO[bytes], on_line: LineCallback | None) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.on_line = on_line
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.problems: list[str] = []
        self.everything: list[str] = []

    def run(self) -> None:
        pending = b""
        while True:
            block = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not block:
                break
            pending += block.replace(b"\r", b"\n")
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._line(raw)
        if pending:
            self._line(pending)

    def _line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if not line:
            return
        self.tail.append(line)
        if len(self.problems) < 5 and PROBLEM.search(line) and not NOT_PROBLEM.search(line):
            self.problems.append(SOURCE_PREFIX.sub("", line))
        if len(self.everything) < 5000:
            self.everything.append(line)
        if self.on_line is not None:
            try:
                self.on_line(line)
            except Exception:  # a broken progress display must not break the command
                log.exception("progress callback failed")


def _failure(argv: list[str], code: int, reader: _StderrReader) -> CommandFailed:
    name = os.path.basename(argv[0])
    tail = "\n".join(reader.tail)
    if reader.problems:
        last = reader.problems[0]
        tail = "\n".join([*(p for p in reader.problems if p not in reader.tail), tail])
    else:
        last = tail.strip().splitlines()[-1] if tail.strip() else ""
    return CommandFailed(
        _("{name} failed (exit code {code}): {last}").format(name=name, code=code, last=last),
        _("The full command and its messages are in the log."),
        argv=argv,
        returncode=code,
        stderr_tail=tail,
    )


def _start(kind: str, argv: list[str], *, stdin: bool, stdout: bool,
           on_line: LineCallback | None) -> tuple[list[str], subprocess.Popen[bytes],
                                                  _StderrReader]:
    """Start one process with OSCAR's environment; its stderr reader is not started yet."""
    full = _resolve(argv)
    cancel.check()
    log.info("%s: %s", kind, shlex.join(full))
    proc = subprocess.Popen(
        full,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        preexec_fn=_die_with_parent,
    )
    cancel.started(proc)
    assert proc.stderr is not None
    return full, proc, _StderrReader(proc.stderr, on_line)


def run(
    argv: list[str],
    *,
    input: bytes | None = None,
    check: bool = True,
    on_line: LineCallback | None = None,
    capture_stdout: bool = True,
    timeout: float | None = None,
) -> Result:
    """Run one command to completion."""
    full, proc, reader = _start("run", argv, stdin=input is not None,
                                stdout=capture_stdout, on_line=on_line)
    # communicate() would read stderr too, racing the reader thread for its lines: hide it.
    proc.stderr = None
    reader.start()
    try:
        out, _unused = proc.communicate(input=input, timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        cancel.finished(proc)
    reader.join()
    if proc.returncode != 0:
        cancel.check()
    stderr = "\n".join(reader.everything)
    if proc.returncode != 0:
        log.info("exit %s: %s", proc.returncode, "\n".join([*reader.problems, *reader.tail]))
        if check:
            raise _failure(full, proc.returncode, reader)
    return Result(full, proc.returncode, out or b"", stderr)


def output(argv: list[str], **kwargs: object) -> str:
    """stdout of a successful command, decoded."""
    result = run(argv, **kwargs)  # type: ignore[arg-type]
    return result.stdout.decode("utf-8", "replace")


def pipeline(
    stages: list[list[str]],
    *,
    source: Iterable[bytes] | None = None,
    sink: Callable[[bytes], None] | None = None,
    on_line: Callable[[int, str], None] | None = None,
) -> None:
    """Run ``stages`` connected stdout→stdin.

    ``source`` feeds the first stage's stdin from Python (a thread), ``sink`` receives the last
    stage's stdout in chunks (on this thread, so it may raise, e.g. disk full, and the whole
    pipeline is then killed). Any stage failing raises CommandFailed for the stage that failed
    first for a reason of its own (not a broken pipe caused by another stage).
    """
    resolved = [_resolve(argv) for argv in stages]
    cancel.check()
    log.info("pipeline: %s", " | ".join(shlex.join(a) for a in resolved))
    procs: list[subprocess.Popen[bytes]] = []
    readers: list[_StderrReader] = []
    feed_error: list[BaseException] = []
    try:
        _start_stages(resolved, source is not None, sink is not None, on_line, procs, readers)
        feeder = _feed(procs, source, feed_error) if source is not None else None
        if sink is not None:
            _drain(procs[-1], sink)
        for proc in procs:
            proc.wait()
        if feeder is not None:
            feeder.join()
        for reader in readers:
            reader.join()
    except BaseException:
        _kill_all(procs)
        for proc in procs:
            proc.wait()
        raise
    finally:
        for proc in procs:
            cancel.finished(proc)
    if feed_error:
        raise feed_error[0]
    _check_stages(resolved, procs, readers)


def _start_stages(resolved: list[list[str]], fed: bool, drained: bool,
                  on_line: Callable[[int, str], None] | None,
                  procs: list[subprocess.Popen[bytes]], readers: list[_StderrReader]) -> None:
    """Start every stage, each reading the previous one's stdout. ``procs`` grows as they
    start, so that the caller can kill the ones already running when a later one fails."""
    prev_out: IO[bytes] | None = None
    for index, argv in enumerate(resolved):
        first, last = index == 0, index == len(resolved) - 1
        stdin: int | IO[bytes]
        if first:
            stdin = subprocess.PIPE if fed else subprocess.DEVNULL
        else:
            assert prev_out is not None
            stdin = prev_out
        stdout = subprocess.PIPE if (not last or drained) else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                env=_env(), preexec_fn=_die_with_parent)
        if prev_out is not None:
            prev_out.close()  # the child holds it now; we must not keep the pipe open
        prev_out = proc.stdout if not last else None
        procs.append(proc)
        cancel.started(proc)
        assert proc.stderr is not None
        callback: LineCallback | None = None
        if on_line is not None:
            callback = (lambda i: (lambda line: on_line(i, line)))(index)
        reader = _StderrReader(proc.stderr, callback)
        reader.start()
        readers.append(reader)


def _feed(procs: list[subprocess.Popen[bytes]], source: Iterable[bytes],
          feed_error: list[BaseException]) -> threading.Thread:
    """A thread writing ``source`` into the first stage; an error the source raises (a
    checksum mismatch) is kept in ``feed_error`` and kills the pipeline."""
    stdin_pipe = procs[0].stdin
    assert stdin_pipe is not None

    def feed() -> None:
        try:
            for chunk in source:
                stdin_pipe.write(chunk)
        except BrokenPipeError:
            pass  # the consumer died; its own exit status tells why
        except BaseException as exc:  # e.g. a checksum mismatch raised by the source
            feed_error.append(exc)
            _kill_all(procs)
        finally:
            try:
                stdin_pipe.close()
            except BrokenPipeError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return feeder


def _drain(proc: subprocess.Popen[bytes], sink: Callable[[bytes], None]) -> None:
    out = proc.stdout
    assert out is not None
    while True:
        chunk = out.read(CHUNK)
        if not chunk:
            break
        sink(chunk)
    out.close()


def _check_stages(resolved: list[list[str]], procs: list[subprocess.Popen[bytes]],
                  readers: list[_StderrReader]) -> None:
    """Raise CommandFailed for the stage that failed for a reason of its own: a broken pipe
    is only the echo of another stage's death."""
    codes = [p.returncode for p in procs]
    if any(codes):
        cancel.check()
    for argv, proc in zip(resolved, procs, strict=True):
        log.debug("exit %s: %s", proc.returncode, argv[0])
    failed = [i for i, c in enumerate(codes) if c != 0]
    if not failed:
        return
    own = [i for i in failed if codes[i] not in (-signal.SIGPIPE, 128 + signal.SIGPIPE)]
    index = own[0] if own else failed[0]
    failure = _failure(resolved[index], codes[index], readers[index])
    log.info("pipeline stage %d failed with %s: %s", index, codes[index], failure.stderr_tail)
    raise failure


def _kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass


def interactive(argv: list[str], output: Path | None = None) -> int:
    """A program that takes the terminal (the shell of the Tools menu); returns its exit code.
    ``output``: a file its messages go to instead (an X session's, which would cover the
    menu's console)."""
    full = _resolve(argv)
    log.info("interactive: %s", shlex.join(full))
    if output is None:
        return subprocess.call(full)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as fh:
        return subprocess.call(full, stdout=fh, stderr=subprocess.STDOUT)


def _controlling_terminal() -> None:
    # A program that opens /dev/tty (dislocker asking for a recovery password) needs the
    # pseudo-terminal on its standard input as its controlling terminal.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    _die_with_parent()


def answer_on_terminal(argv: list[str], answer: str, *, prompt: bytes,
                       timeout: float = 60) -> Result:
    """Run a program that reads a secret on a terminal only: on a pseudo-terminal, typing
    ``answer`` once when ``prompt`` appears. The secret never reaches argv nor the log: what
    the terminal echoed is dropped line by line (its prompt lines, anything holding it)."""
    full = _resolve(argv)
    cancel.check()
    log.info("run (answered on a terminal): %s", shlex.join(full))
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(full, stdin=slave, stdout=slave, stderr=slave, env=_env(),
                                close_fds=True, preexec_fn=_controlling_terminal)
    finally:
        os.close(slave)
    cancel.started(proc)
    try:
        raw = _converse(master, proc, answer.encode(), prompt, timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        cancel.finished(proc)
    lines = [line for line in re.split(r"[\r\n]+", raw.decode("utf-8", "replace"))
             if line and prompt.decode() not in line and answer not in line]
    if proc.returncode != 0:
        cancel.check()
        log.info("exit %s: %s", proc.returncode, "\n".join(lines[-TAIL_LINES:]))
    return Result(full, proc.returncode, b"", "\n".join(lines))


def _converse(master: int, proc: subprocess.Popen[bytes], answer: bytes, prompt: bytes,
              timeout: float) -> bytes:
    output = b""
    answered = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the program and its children closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and prompt in output:
                os.write(master, answer + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    return output


class Background:
    """A process that runs beside OSCAR's own work (a server, a network receiver): started by
    ``spawn``, stopped by ``stop``; its stderr is read like any command's."""

    def __init__(self, argv: list[str], proc: subprocess.Popen[bytes], reader: _StderrReader) -> None:
        self.argv = argv
        self.proc = proc
        self.reader = reader

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, *, check: bool = True, timeout: float | None = None) -> int:
        """Wait for the end; raise CommandFailed on a non-zero exit when ``check``."""
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            cancel.finished(self.proc)
        self.reader.join()
        log.info("exit %s: %s", code, self.argv[0])
        if code != 0 and check:
            raise _failure(self.argv, code, self.reader)
        return code

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; never raises."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.finish(check=False)


def spawn(argv: list[str], *, stdin: bool = False, stdout: bool = False,
          on_line: LineCallback | None = None) -> Background:
    """Start a process and return at once; pipes for stdin/stdout when asked."""
    full, proc, reader = _start("spawn", argv, stdin=stdin, stdout=stdout, on_line=on_line)
    reader.start()
    return Background(full, proc, reader)


def daemon(argv: list[str]) -> tuple[int, IO[bytes]]:
    """Start a service that outlives this command (OSCAR's network boot supervisor): a session
    of its own, the caller's environment and language, no terminal. Returns its pid and a pipe
    on which it says once whether it started; its own log is OSCAR's log."""
    full = _resolve(argv)
    log.info("daemon: %s", shlex.join(full))
    proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    assert proc.stdout is not None
    return proc.pid, proc.stdout
