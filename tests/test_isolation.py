"""The isolation boundary: the wire format against hostile bytes, the channel, the checked claims,
the training view, the remote log q, the sandbox's walls, and the same record with and without a
method process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import time

import numpy as np
import pytest
import torch

from benchmark.adapter import ProposalMethod, SourceFacts
from benchmark.data import generate, load_reference, load_training_positions
from benchmark.errors import BgbenchError, DataError
from benchmark.isolation import codec
from benchmark.isolation.channel import MAGIC, BulkFile, Channel, ChannelClosed, ChannelTimeout, new_bulk_file
from benchmark.isolation.codec import ProtocolViolation
from benchmark.isolation.launch import Launch, training_view
from benchmark.isolation.remote import _RemoteLogQ
from benchmark.isolation.wire import BufferSpec, Limits, WireError, encode, header_bytes, parse_header, resolve
from benchmark.runner import RunConfig, Runner
from benchmark.tasks import get_task
from tests.test_runner import tiny_two_system_task

FIRST = "Ace-A-Nme"


# --- wire format ----------------------------------------------------------------------------


def roundtrip(value, limits: Limits = Limits()):
    body, arrays = encode(value, limits)
    specs = [BufferSpec(a.dtype, a.shape, "inline") for a in arrays]
    body2, _ = parse_header(header_bytes(body, specs), limits)
    return resolve(body2, [a.copy() for a in arrays], limits)


def test_values_and_arrays_round_trip():
    value = {"a": [1, 2.5, None, True, "x"], "t": torch.arange(6, dtype=torch.float32).reshape(2, 3),
             "n": np.ones((2, 2), dtype=np.int64), "b": torch.tensor([True, False]), "nan": float("nan"),
             "bf16": torch.ones(3, dtype=torch.bfloat16), "empty": torch.zeros((0, 22, 3))}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, None, True, "x"] and np.isnan(out["nan"])
    assert isinstance(out["t"], torch.Tensor) and torch.equal(out["t"], value["t"])
    assert isinstance(out["n"], np.ndarray) and out["n"].dtype == np.int64
    assert out["bf16"].dtype == torch.float32 and out["empty"].shape == (0, 22, 3)


@pytest.mark.parametrize("value, message", [
    ({"$array": 0}, "reserved"),
    ({1: 2}, "keys must be strings"),
    (object(), "cannot be sent"),
    (np.array(["a", "b"]), "dtype"),
    (torch.zeros(2, dtype=torch.complex64), "dtype"),
])
def test_encoding_refuses_what_the_format_cannot_carry(value, message):
    with pytest.raises(WireError, match=message):
        encode(value)


def header(body, buffers) -> bytes:
    return json.dumps({"body": body, "buffers": buffers}).encode()


GOOD = {"dtype": "<f8", "shape": [2, 3], "where": "inline", "offset": 0}


@pytest.mark.parametrize("data", [
    b"\x80\x04\x95 pickle",  # a pickle is not a header
    b"\xff\xfe",  # not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # nesting that would blow the stack
    header(None, [dict(GOOD, dtype="|O")]),  # object arrays would unpickle
    header(None, [dict(GOOD, dtype="<M8")]),
    header(None, [dict(GOOD, shape=[-1, 3])]),
    header(None, [dict(GOOD, shape=[True, 3])]),
    header(None, [dict(GOOD, shape=[2.0, 3])]),
    header(None, [dict(GOOD, shape=[1] * 9)]),
    header(None, [dict(GOOD, shape=[1 << 40, 1 << 20])]),  # over the payload limit
    header(None, [dict(GOOD, where="elsewhere")]),
    header(None, [dict(GOOD, offset=-5)]),
    header(None, [dict(GOOD, extra=1)]),
    header(None, [GOOD] * 300),
    json.dumps({"body": None}).encode(),
    json.dumps({"body": None, "buffers": {}, "x": 1}).encode(),
])
def test_hostile_headers_are_refused(data):
    with pytest.raises(WireError):
        parse_header(data)


@pytest.mark.parametrize("body", [{"$array": 1}, {"$array": "0"}, {"$array": 0, "x": 1}, {"$code": 0},
                                  [{"$array": 0}, {"$tensor": 0}]])
def test_bad_placeholders_are_refused(body):
    with pytest.raises(WireError):
        resolve(body, [np.zeros(1)])


# --- channel ------------------------------------------------------------------------------------


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    fds = [new_bulk_file("ab"), new_bulk_file("ba")]
    left = Channel(a, bulk_out=BulkFile(fds[0]), bulk_in=BulkFile(fds[1]), bulk_threshold=64)
    right = Channel(b, bulk_out=BulkFile(fds[1]), bulk_in=BulkFile(fds[0]), bulk_threshold=64)
    yield left, right
    left.close(), right.close()
    for fd in fds:
        os.close(fd)


def test_channel_carries_small_and_bulk_arrays(pair):
    left, right = pair
    big = torch.randn(50, 22, 3, dtype=torch.float64)  # over the 64-byte threshold: through the bulk file
    left.send({"op": "x", "big": big, "small": np.arange(3)})
    out = right.recv(time.monotonic() + 5)
    assert torch.equal(out["big"], big) and out["small"].tolist() == [0, 1, 2]
    out["big"][0] = 0  # the receiver owns its copy
    assert big[0].abs().sum() > 0


def test_channel_deadline_and_close(pair):
    left, right = pair
    t = time.monotonic()
    with pytest.raises(ChannelTimeout):
        right.recv(time.monotonic() + 0.2)
    assert time.monotonic() - t < 2
    left.sock.sendall(MAGIC + struct.pack("<I", 100) + b"{")  # half a message, then nothing
    with pytest.raises(ChannelTimeout):
        right.recv(time.monotonic() + 0.2)
    left.close()
    with pytest.raises(ChannelClosed):
        right.recv(time.monotonic() + 1)


def framed(data: bytes) -> bytes:
    return MAGIC + struct.pack("<I", len(data)) + data


@pytest.mark.parametrize("raw, message", [
    (b"PKL1" + struct.pack("<I", 2) + b"{}", "magic"),
    (MAGIC + struct.pack("<I", 0xFFFFFFFF), "exceeds"),
    # a bulk buffer past the end of the harness-owned file: a short read, not a crash
    (framed(header(None, [{"dtype": "<f8", "shape": [1000], "where": "bulk", "offset": 1 << 30}])), "truncated"),
])
def test_channel_refuses_bad_frames(pair, raw, message):
    left, right = pair
    left.sock.sendall(raw)
    with pytest.raises(WireError, match=message):
        right.recv(time.monotonic() + 1)


def test_a_receiver_that_stops_reading_cannot_block_the_sender(pair):
    left, _ = pair
    with pytest.raises(ChannelTimeout):  # ~8 MB that nobody reads: the socket buffer fills up
        left.send({"x": [0.0] * 2_000_000}, time.monotonic() + 0.3)


# --- checked claims -----------------------------------------------------------------------------


@pytest.mark.parametrize("task", [tiny_two_system_task(), get_task("ALDP"), get_task("4AA")])
def test_tasks_cross_as_data(task):
    data = json.loads(json.dumps(codec.task_to_data(task)))
    assert codec.task_from_data(data) == task


@pytest.mark.parametrize("data", [
    {"batch_size": True}, {"batch_size": "10"}, {"coordinate_scale_nm": True}, {"coordinate_scale_nm": -1.0},
    {"com": "sideways"}, {"device": 3}, {"exact_density": 1}, {"unknown": 1}, [1, 2], None,
])
def test_source_facts_are_checked(data):
    with pytest.raises(ProtocolViolation):
        codec.facts_from_data(data)


def test_source_facts_round_trip():
    facts = SourceFacts(coordinate_scale_nm=0.1, com="com-noise", batch_size=7)
    assert codec.facts_from_data(codec.facts_to_data(facts)) == facts


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "x" * 65, 3, None, "a b"])
def test_method_names_must_be_file_safe(name):
    facts = {"name": name, "version": "1", "description": "", "family": "", "applies_to": "all",
             "requires_gpu": False, "kind": "proposal", "config": {}}
    with pytest.raises(ProtocolViolation, match="method name"):
        codec.facts_from_method_data(facts)


def test_samples_must_be_tensors():
    good = {"positions": torch.zeros(2, 3, 3), "set_name": "s", "log_weights": None, "proposal": None, "diagnostics": {}}
    assert codec.samples_from_data(good).set_name == "s"
    for key, bad in [("positions", [[0.0]]), ("positions", None), ("log_weights", np.zeros(2)), ("diagnostics", [])]:
        with pytest.raises(ProtocolViolation):
            codec.samples_from_data({**good, key: bad})


# --- log q across the boundary ------------------------------------------------------------------


def test_remote_log_q_gradient_equals_local_autograd():
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)

    def log_q(y):
        return -(y**2).flatten(1).sum(1) * 1.7 + y[:, 0, 0].sin()

    with torch.enable_grad():
        local = log_q(x)
        (g_local,) = torch.autograd.grad((-local).sum(), x)
        xd = x.detach().requires_grad_(True)
        lq = log_q(xd)
        (g,) = torch.autograd.grad(lq.sum(), xd)
        remote = _RemoteLogQ.apply(x, lq.detach(), g)
        (g_remote,) = torch.autograd.grad((-remote).sum(), x)
    assert torch.equal(remote, local.detach())
    assert torch.equal(g_remote, g_local)  # bit for bit: a sign flip rounds symmetrically


# --- training view ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bgdata")
    generate.prepare_task(tiny_two_system_task(), "quick", root=root, progress=False)
    return root


def test_training_view_holds_the_train_split_only(data_dir, tmp_path):
    task = tiny_two_system_task()
    view = training_view(task, "quick", task.systems, data_dir)
    names = sorted(rel.rsplit("/", 1)[1] for _, rel in view.entries)
    assert all(n in ("manifest.json", "train.npy") for n in names), names
    folder = view.materialize(tmp_path / "view")
    spec = task.systems[0]
    assert np.array_equal(load_training_positions(task, "quick", spec, data_dir=folder),
                          load_training_positions(task, "quick", spec, data_dir=data_dir))
    with pytest.raises(DataError):
        load_reference(task, "quick", spec, data_dir=folder)


# --- one seed, one record ---------------------------------------------------------------------


def example_run(data_dir, tmp_path, isolation, sampler="snis", name="rec"):
    options = {"num_annealing_steps": 10} if sampler == "smc" else {}  # 100 particles from a budget of 1000
    cfg = RunConfig(method="submissions/example_gaussian", task=tiny_two_system_task(), tier="quick", data_dir=data_dir,
                    work_dir=tmp_path / "work", out=tmp_path / f"{name}-{isolation}.json", systems=[FIRST], budget=1000,
                    sampler=sampler, sampler_options=options, isolation=isolation, seed=4)
    return Runner(cfg).run()


@pytest.mark.parametrize("sampler", ["snis", pytest.param("smc", marks=pytest.mark.slow)])
def test_same_seed_same_record_with_and_without_a_method_process(data_dir, tmp_path, sampler):
    inside = example_run(data_dir, tmp_path, "none", sampler)
    isolated = example_run(data_dir, tmp_path, "process", sampler)
    assert inside.isolation == "none" and isolated.isolation == "process"
    a, b = inside.systems[FIRST], isolated.systems[FIRST]
    assert a.status == b.status == "ok", (a.error, b.error)
    assert a.metrics == b.metrics and a.energy_evaluations == b.energy_evaluations
    assert b.diagnostics["method_process"]["isolation"] == "process"


class BusyProposal(ProposalMethod):
    """Spends a known amount of CPU in its own process before proposing (isolated by its import path)."""

    name = "busy"
    cpu_work_s = 0.5

    def propose(self, system, n, ctx):
        t0 = time.process_time()
        while time.process_time() - t0 < self.cpu_work_s:
            pass
        return torch.randn(n, system.n_atoms, 3) * 0.1, torch.zeros(n)


def test_the_harness_measures_the_method_process_cpu(data_dir, tmp_path):
    """/proc counts CPU in clock ticks (10 ms), so a method must work for a while to be seen at all:
    0.5 s of CPU in the method process must show in the record, measured by the harness, not reported."""
    cfg = RunConfig(method=BusyProposal, task=tiny_two_system_task(), data_dir=data_dir, work_dir=tmp_path / "work",
                    out=tmp_path / "busy.json", systems=[FIRST], budget=300, isolation="process")
    res = Runner(cfg).run().systems[FIRST]
    assert res.status == "ok", res.error
    assert res.diagnostics["method_process"]["cpu_s"] >= 0.4


class Unsendable(ProposalMethod):
    """Answers propose with an object the wire cannot carry (a class method, isolated by its import path)."""

    name = "unsendable"

    def propose(self, system, n, ctx):
        return torch.zeros(n, system.n_atoms, 3), object()


def test_an_answer_the_wire_cannot_carry_fails_the_system(data_dir, tmp_path):
    cfg = RunConfig(method=Unsendable, task=tiny_two_system_task(), data_dir=data_dir, work_dir=tmp_path / "work",
                    out=tmp_path / "u.json", systems=[FIRST], budget=300, isolation="process")
    res = Runner(cfg).run().systems[FIRST]
    assert res.status == "failed" and "propose returned a value that cannot be sent" in res.error
    assert "object" in res.error


def test_submission_folders_are_isolated_by_default_and_builtins_are_not(data_dir, tmp_path):
    runner = Runner(RunConfig(method="submissions/example_gaussian", task=tiny_two_system_task(), data_dir=data_dir,
                              work_dir=tmp_path / "work", out=tmp_path / "r.json"))
    try:
        assert runner.isolation == "process" and runner.host.alive and runner.method.name == "example-gaussian"
    finally:
        runner.close()
    assert not runner.host.alive
    runner = Runner(RunConfig(method="md", task=tiny_two_system_task(), data_dir=data_dir, out=tmp_path / "m.json"))
    assert runner.isolation == "none" and runner.host is None


def test_timeout_needs_isolation_and_config_errors_read_as_in_process(data_dir, tmp_path):
    with pytest.raises(BgbenchError, match="--timeout"):
        Runner(RunConfig(method="md", task=tiny_two_system_task(), timeout=5))
    with pytest.raises(BgbenchError, match="--isolation"):
        Runner(RunConfig(method="md", task=tiny_two_system_task(), isolation="vm"))
    with pytest.raises(BgbenchError, match="Unknown GaussianConfig key"):
        Runner(RunConfig(method="submissions/example_gaussian", task=tiny_two_system_task(), data_dir=data_dir,
                         work_dir=tmp_path / "work", method_config={"sigam_nm": 1.0}))


def test_a_submission_name_that_escapes_its_folders_is_refused(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "submission.yaml").write_text("name: ../../evil\nentry: adapter:X\nauthors: []\ndescription: x\n")
    (folder / "adapter.py").write_text("raise SystemExit('never imported by the harness')\n")
    with pytest.raises(BgbenchError, match="submission's name must be"):
        Runner(RunConfig(method=str(folder), task=tiny_two_system_task(), work_dir=tmp_path / "work"))
    assert not (tmp_path / "evil" / "scratch").exists()


def test_resume_refuses_another_isolation(data_dir, tmp_path):
    example_run(data_dir, tmp_path, "none", name="resume")
    cfg = RunConfig(method="submissions/example_gaussian", task=tiny_two_system_task(), tier="quick", data_dir=data_dir,
                    work_dir=tmp_path / "work", out=tmp_path / "resume-none.json", systems=[FIRST], budget=1000,
                    isolation="process", seed=4, resume=True)
    runner = Runner(cfg)
    with pytest.raises(BgbenchError, match="isolation none"):
        runner.run()
    assert not runner.host.alive


# --- sandbox ------------------------------------------------------------------------------------

def bwrap_works() -> bool:
    """bubblewrap is installed and can start a sandbox here (user namespaces or setuid bwrap)."""
    import subprocess

    binary = shutil.which("bwrap")
    if binary is None:
        return False
    probe = subprocess.run([binary, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


needs_bwrap = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not installed or cannot start a sandbox")


@needs_bwrap
def test_sandbox_walls(data_dir, tmp_path):
    task = tiny_two_system_task()
    secret = tmp_path / "results" / "secret.json"
    secret.parent.mkdir()
    secret.write_text("{}")
    launch = Launch("sandbox", training_view(task, "quick", task.systems, data_dir), scratch=tmp_path / "scratch",
                    weights_root=tmp_path / "weights", weights_own=tmp_path / "weights" / "local" / "m")
    probe = f"""
import os, socket, sys
from pathlib import Path
seen = {{
    "data": os.path.exists({str(data_dir)!r}), "results": os.path.exists({str(secret)!r}),
    "view_test": any(p.name == "test.npy" for p in Path("/bgbench/data").rglob("*")),
    "view_train": any(p.name == "train.npy" for p in Path("/bgbench/data").rglob("*")),
    "other_weights": os.path.exists({str(tmp_path / "weights" / "local")!r} + "/other"),
    "parent": os.path.exists("/proc/{os.getpid()}"), "token": "BGBENCH_TEST_TOKEN" in os.environ,
    "shadow": os.path.exists("/etc/shadow"),
}}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1); seen["network"] = True
except OSError:
    seen["network"] = False
for path in ("/usr/evil", {str(data_dir)!r} + "/evil"):
    try:
        open(path, "w"); seen["write " + path] = True
    except OSError:
        pass
Path("scratch-ok").write_text("x")
print(repr(seen))
"""
    (tmp_path / "weights" / "local" / "other").mkdir(parents=True)
    env = {**launch.env(), "BGBENCH_TEST_TOKEN": "x"}
    out = subprocess.run([*launch.argv_prefix(), "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = eval(out.stdout.strip().splitlines()[-1])  # our own probe's repr of a dict of booleans
    assert seen == {"data": False, "results": False, "view_test": False, "view_train": True, "other_weights": False,
                    "parent": False, "token": False, "shadow": False, "network": False}
    assert (tmp_path / "scratch" / "scratch-ok").exists()


@pytest.mark.slow
@needs_bwrap
def test_same_seed_same_record_in_the_sandbox(data_dir, tmp_path):
    inside = example_run(data_dir, tmp_path, "none")
    sandboxed = example_run(data_dir, tmp_path, "sandbox")
    assert sandboxed.isolation == "sandbox"
    assert inside.systems[FIRST].metrics == sandboxed.systems[FIRST].metrics
