"""benchmarks/bench_scale_peer.py: runs without the peer installed, and a step past the cap is killed and said so."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scale_peer.py"


def run(*args: str, tmp_path: Path) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), "--no-peer", "--workdir", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_small_run_without_the_peer_prints_every_row(tmp_path):
    out = run("--sizes", "2k", "--labels", "5", tmp_path=tmp_path)
    rows = [line for line in out.splitlines()
            if "peer not installed here: run with .bench-venv/bin/python" in line and not line.startswith("#")]
    assert len(rows) == 12, out  # every figure's row names the missing peer
    for name in ("build", "reopen", "first item", "label, serve + submit, median of 5", "a new full order"):
        row = next(line for line in rows if line.startswith(name))
        assert " [" in row, row  # a figure with its load average
    assert "1,995 ids" in out  # the order covers the unlabelled items
    assert list(tmp_path.iterdir()) == []  # the projects are removed


def test_a_step_past_the_cap_is_killed_and_reported(tmp_path):
    out = run("--sizes", "1k", "--cap", "0.01", tmp_path=tmp_path)
    assert "did not finish in 0.01 s" in out, out
