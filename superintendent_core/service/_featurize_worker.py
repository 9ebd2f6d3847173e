"""The background feature job's worker process: ``python -m superintendent_core.service._featurize_worker NICENESS EXTRACTOR``.

Reads length-prefixed pickled lists of encoded pictures from stdin and writes
``("ok", matrix, failed)`` or ``("error", text)`` for each to stdout. Started only
by :class:`~superintendent_core.service.featurize.FeaturizeJob` (``mode="process"``).
"""

from __future__ import annotations

import sys

from superintendent_core.service.featurize import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.stdin.buffer, sys.stdout.buffer, int(sys.argv[1]), sys.argv[2]))
