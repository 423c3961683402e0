"""Named points where a crash test may kill an indexing process; unset outside tests.

``SHOPRANK_TEST_CRASH_AT=<stage>`` makes the process SIGKILL itself on reaching that stage:
no ``finally``, no exit handlers, nothing flushed, as after ``kill -9``. The stages, in the
order a build passes them:

- ``encoded``: every modality encoded and vector-indexed, the BM25 index not built yet
- ``lexical``: the BM25 index written, nothing else of the new generation
- ``saving``: catalog and vectors written, the manifest not
- ``written``: the new generation complete and flushed, the pointer not touched
- ``pointer-written``: the new pointer in its temp file, not yet renamed over ``CURRENT``
- ``switched``: ``CURRENT`` names the new generation, old ones not removed yet
- ``cleanup``: an old generation half removed
"""
from __future__ import annotations

import os
import signal

CRASH_ENV = "SHOPRANK_TEST_CRASH_AT"
CRASH_STAGES = ("encoded", "lexical", "saving", "written", "pointer-written", "switched", "cleanup")


def crash_point(stage: str) -> None:
    """Die here if the crash test asked for ``stage``."""
    if stage not in CRASH_STAGES:
        raise ValueError(f"unknown crash stage {stage!r}; known: {', '.join(CRASH_STAGES)}")
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)
