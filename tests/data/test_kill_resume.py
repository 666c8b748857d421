"""Killing the generator process (SIGKILL, no clean-up) and re-running resumes and gives the same bytes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from benchmark.data import content_hashes, load_reference, store
from benchmark.data.generate import prepare_system
from benchmark.errors import DataError

SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    from pathlib import Path
    from benchmark.data import generate, replica_md
    from benchmark.tasks import get_task
    from benchmark.tasks.protocol import LocalMD
    if __name__ == "__main__":
        replica_md.FRAMES_PER_SEGMENT = 5
        replica_md.START_MINIMIZE_ITERATIONS = 50
        task = get_task("ALDP")
        quick = dataclasses.replace(task.protocol("quick"), n_eval_samples=20,
                                    local_md=LocalMD(replicas=(2, 1, 2), frames_per_replica=80, frame_interval_steps=50,
                                                     warmup_steps=100))
        task = dataclasses.replace(task, protocols={**task.protocols, "quick": quick})
        generate.prepare_system(task, "quick", task.systems[0], Path(sys.argv[1]), seed=5, progress=False,
                                workers=int(sys.argv[2]))
""")


def test_sigkill_then_rerun_resumes(tmp_path, tiny_task, monkeypatch):
    from benchmark.data import replica_md

    monkeypatch.setattr(replica_md, "FRAMES_PER_SEGMENT", 5)
    root = tmp_path / "killed"
    work = store.system_dir("ALDP", "quick", "Ace-A-Nme", root) / store.WORK
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), "1"])
    try:
        deadline = time.time() + 120
        while not (work / "segment_0003.npz").exists():  # a few segments in, of 17
            assert proc.poll() is None, "generator finished before it could be killed"
            assert time.time() < deadline
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait()
    done = sorted(p.name for p in work.glob("segment_*.npz"))
    assert 4 <= len(done) < 17 and not (work.parent / store.MANIFEST).exists()

    task = tiny_task(replicas=(2, 1, 2), frames=80, interval=50, warmup=100)
    with pytest.raises(DataError, match="resume"):  # one more segment, after the killed run's last complete one
        prepare_system(task, "quick", task.systems[0], root, seed=5, progress=False, stop_after_segments=1)
    assert len(list(work.glob("segment_*.npz"))) == len(done) + 1
    prepare_system(task, "quick", task.systems[0], root, seed=5, progress=False)  # resumes to the end, one process
    prepare_system(task, "quick", task.systems[0], tmp_path / "fresh", seed=5, progress=False)
    a = load_reference(task, "quick", task.systems[0], root)
    b = load_reference(task, "quick", task.systems[0], tmp_path / "fresh")
    assert content_hashes(a) == content_hashes(b)  # sha256 of every file: train, val, test, energies, topology


@pytest.mark.slow
def test_quick_al3_made_here_has_the_hashes_of_its_data_card(tmp_path):
    """The same quick data on every machine: a fresh `bgbench data prepare AL3` gives the card's sha256."""
    from benchmark.data.cards import card_hashes
    from benchmark.tasks import get_task

    task = get_task("AL3")
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, progress=False)
    assert content_hashes(load_reference(task, "quick", spec, tmp_path)) == card_hashes("AL3")[spec.name]
