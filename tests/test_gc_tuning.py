"""Long-running processes freeze what start-up made and collect the young generation less often."""

from __future__ import annotations

import subprocess
import sys

from missionctl.bootstrap import GC_GEN0_THRESHOLD

PROBE = """
import gc
from missionctl.bootstrap import tune_gc
before = gc.get_freeze_count()
tune_gc()
print(before, gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    # In a process of its own: frozen objects are never collected.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, frozen, threshold = (int(value) for value in out)
    assert before == 0
    assert frozen > 10_000  # every module, mapper and schema made by the import
    assert threshold == GC_GEN0_THRESHOLD
