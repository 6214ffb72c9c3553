"""Worker process of :func:`zkdl.verify_pool.verify_files`.

Started by ``verify_files`` as a fresh interpreter (``python -c`` or ``python -m
zkdl._verify_worker``), never through multiprocessing, so it never imports the
caller's ``__main__`` script. Protocol: one JSON string (a proof file path) per line
on stdin; for each, one JSON line on stdout: the :func:`zkdl.verify_pool.verify_file`
result. The worker exits at the end of stdin. Anything else the verifier or a library
prints goes to stderr, so that stdout carries results only.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the result channel
    os.dup2(2, 1)  # stray output (Python or C level) goes to stderr, not into the results
    sys.stdout = sys.stderr
    from zkdl.verify_pool import verify_file
    for line in sys.stdin:
        if not line.strip():
            continue
        res = verify_file(json.loads(line))
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
