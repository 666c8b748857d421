"""Killing the generator process (SIGKILL, no clean-up) and re-running resumes and gives the same data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from benchmark.data import load_reference, store
from benchmark.data.generate import prepare_system
from benchmark.errors import DataError

SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    from pathlib import Path
    from benchmark.data import generate
    from benchmark.tasks import get_task
    from benchmark.tasks.protocol import LocalMD
    generate.FRAMES_PER_CHUNK = 25
    task = get_task("ALDP")
    quick = dataclasses.replace(task.protocol("quick"), n_eval_samples=20,
                                local_md=LocalMD(length_ns=0.02, frame_interval_steps=50, warmup_steps=100))
    task = dataclasses.replace(task, protocols={**task.protocols, "quick": quick})
    generate.prepare_system(task, "quick", task.systems[0], Path(sys.argv[1]), seed=5, progress=False)
""")


def test_sigkill_then_rerun_resumes(tmp_path, small_chunks, tiny_task):
    root = tmp_path / "killed"
    work = store.system_dir("ALDP", "quick", "Ace-A-Nme", root) / ".work"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(root)])
    try:
        deadline = time.time() + 120
        while not (work / "state_00002.chk").exists():  # a few chunks in, of 16
            assert proc.poll() is None, "generator finished before it could be killed"
            assert time.time() < deadline
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait()
    done = sorted(p.name for p in work.glob("state_*.chk"))
    assert 3 <= len(done) < 16 and not (work.parent / store.MANIFEST).exists()

    task = tiny_task(length_ns=0.02, interval=50, warmup=100)
    with pytest.raises(DataError, match="resume"):  # one more chunk, after the killed run's last complete one
        prepare_system(task, "quick", task.systems[0], root, seed=5, progress=False, stop_after_chunks=1)
    assert len(list(work.glob("state_*.chk"))) == len(done) + 1
    prepare_system(task, "quick", task.systems[0], root, seed=5, progress=False)  # resumes to the end
    prepare_system(task, "quick", task.systems[0], tmp_path / "fresh", seed=5, progress=False)
    a = load_reference(task, "quick", task.systems[0], root)
    b = load_reference(task, "quick", task.systems[0], tmp_path / "fresh")
    np.testing.assert_array_equal(a.train_positions(), b.train_positions())
    np.testing.assert_array_equal(a.test_positions, b.test_positions)
