"""The server's app leaves start-up's objects out of the garbage collector's full collections."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_served_app_has_its_start_up_frozen(tmp_path):
    # In a process of its own: freezing this test process would keep every later test's cyclic garbage.
    code = ("import gc, app; frozen = gc.get_freeze_count(); "
            "print(frozen, len(gc.get_objects()), type(app.app).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"QSCORE_INSTANCE": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=True).stdout.split()
    frozen, tracked, kind = int(out[0]), int(out[1]), out[2]
    assert kind == "Flask"
    assert frozen > 100_000 and tracked < frozen / 10, (frozen, tracked)
