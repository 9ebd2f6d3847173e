"""The strategy comparison's worker process: ``python -m superintendent_core.service._compare_worker [idle | niceness]``.

Reads one pickled :class:`~superintendent_core.service.compare.ComparisonData`
from stdin and writes length-prefixed pickled messages to stdout:
``("progress", fraction, message)`` …, then ``("done", ComparisonResult)``,
``("refused", reason)`` or ``("error", text)``. Started only by
:class:`~superintendent_core.service.compare.ComparisonRunner`, with one BLAS
thread (its environment) and a lower priority.
"""

from __future__ import annotations

import sys

from superintendent_core.service.compare import _worker_main

if __name__ == "__main__":
    priority = sys.argv[1] if len(sys.argv) > 1 else "idle"
    sys.exit(_worker_main(sys.stdin.buffer, sys.stdout.buffer, priority if priority == "idle" else int(priority)))
