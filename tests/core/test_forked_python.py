"""tests/core/forked_python.py: the kill -9 tests' forked writers behave as ``python -c`` would."""

from __future__ import annotations

import os
import signal

from forked_python import Zygote


def test_a_forked_child_is_its_own_process_with_its_argv_and_pipes():
    with Zygote(["json"]) as zygote:
        proc = zygote.spawn(
            "import os, sys\nprint(os.getpid(), *sys.argv, flush=True)\nprint('to stderr', file=sys.stderr)",
            "a b",
            "c",
        )
        out, err = proc.communicate()
    pid, *argv = out.strip().split(" ")
    assert int(pid) == proc.pid != os.getpid()
    assert argv == ["-c", "a", "b", "c"]  # ("a b" is one argument, printed with a space)
    assert err == "to stderr\n" and proc.returncode == 0


def test_exit_codes_exceptions_and_sigkill_are_reported_like_popen():
    with Zygote([]) as zygote:
        exits = zygote.spawn("import sys; sys.exit(3)")
        raises = zygote.spawn("raise ValueError('boom')")
        hangs = zygote.spawn("import time\nprint('up', flush=True)\ntime.sleep(600)")
        assert hangs.stdout.readline() == "up\n"
        hangs.send_signal(signal.SIGKILL)
        assert exits.communicate() == ("", "") and exits.returncode == 3
        _, err = raises.communicate()
        assert raises.returncode == 1 and "ValueError: boom" in err
        hangs.communicate()
        assert hangs.returncode == -signal.SIGKILL


def test_the_child_reads_its_stdin():
    with Zygote([]) as zygote:
        proc = zygote.spawn("import sys\nprint(sys.stdin.read().upper(), end='')")
        proc.stdin.write("hello")
        out, _ = proc.communicate()
    assert out == "HELLO" and proc.returncode == 0
