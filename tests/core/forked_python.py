"""Processes to SIGKILL, forked from one interpreter that has already imported the engine.

The kill -9 tests start a writer process, read what it acknowledges, SIGKILL it at a random moment
and check that every acknowledged label survived, round after round. A fresh ``python -c`` per
round spends most of the round importing numpy, pandas and the engine. Here one helper
interpreter (the *zygote*) imports those once, then forks a child per round; the child runs the
writer's code as ``python -c`` would (its own ``sys.argv``, standard output and error on pipes
the test reads) and opens the store itself. It is still a separate process killed with SIGKILL:
nothing is shared with the test but the pipes.

    with Zygote(["superintendent_core.store.folder"]) as zygote:
        proc = zygote.spawn(CODE, "arg1")
        proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_ZYGOTE = r"""
import json, os, socket, sys, traceback
sock = socket.socket(fileno=int(sys.argv[1]))
for name in sys.argv[2:]:
    __import__(name)
sock.send(b"ready")
while True:
    data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
    if not data:
        break
    request = json.loads(data)
    if request["op"] == "wait":
        _, status = os.waitpid(request["pid"], 0)
        sock.send(str(os.waitstatus_to_exitcode(status)).encode())
        continue
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sock.close()
            os.dup2(fds[0], 0)
            os.dup2(fds[1], 1)
            os.dup2(fds[2], 2)
            for fd in fds:
                os.close(fd)
            sys.stdin = open(0, "r", closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["-c", *request["argv"]]
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    for fd in fds:
        os.close(fd)
    sock.send(str(pid).encode())
"""


class Forked:
    """The part of :class:`subprocess.Popen` the kill -9 tests use, for a child of the zygote."""

    def __init__(self, zygote: Zygote, pid: int, stdin, stdout, stderr):
        self._zygote = zygote
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote._wait(self.pid)
        return self.returncode

    def communicate(self) -> tuple[str, str]:
        """Close stdin, read the rest of stdout and stderr, wait; like ``Popen.communicate``."""
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        out = self.stdout.read()
        err = self.stderr.read()
        self.stdout.close()
        self.stderr.close()
        self.wait()
        return out, err


class Zygote:
    """One interpreter that imports ``preload`` once and forks a child per :meth:`spawn`."""

    def __init__(self, preload: list[str], cwd: Path = ROOT):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE, str(theirs.fileno()), *preload],
            pass_fds=[theirs.fileno()],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        ready = self._sock.recv(64)
        if ready != b"ready":
            self.close()
            raise RuntimeError(f"the zygote did not start (exit code {self._proc.wait()})")

    def spawn(self, code: str, *args: str) -> Forked:
        """Run ``code`` in a forked child as ``python -c code *args`` would; text pipes as in Popen."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = json.dumps({"op": "spawn", "code": code, "argv": list(args)}).encode()
        try:
            socket.send_fds(self._sock, [request], [in_r, out_w, err_w])
            pid = int(self._sock.recv(64))
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        return Forked(self, pid, open(in_w, "w"), open(out_r), open(err_r))

    def _wait(self, pid: int) -> int:
        self._sock.send(json.dumps({"op": "wait", "pid": pid}).encode())
        return int(self._sock.recv(64))

    def close(self) -> None:
        self._sock.close()  # the zygote reads end-of-file and exits
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
