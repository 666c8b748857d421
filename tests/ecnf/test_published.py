"""Published ECNF++ checkpoints (spec flows 5.4): fixtures written in exactly that layout (random weights,
every key and shape) load strictly, go through the weights store into the method, and the imported field
and log q equal an independent computation from the same tensors (reference-style edge lists)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.ecnf import ECNF, ECNFTransferable
from baselines.ecnf.egnn import EGNNVectorField
from baselines.ecnf.features import PUBLISHED_GROUPS, atom_classes, transferable_width
from baselines.ecnf.ode import SolverSettings, log_prob
from baselines.ecnf.published import LAYOUT, load_published_state
from benchmark.adapter import RunContext
from benchmark.data.corpus import corpus_spec
from benchmark.systems.encodings import atom_encodings
from benchmark.tasks import get_task
from benchmark.weights import WeightsError, WeightsStore, import_published, load_into
from benchmark.weights.published import published
from tests.ecnf.helpers import direct_velocity, published_layout, random_state


def test_transferable_up_to_4aa_layout_loads_strictly_and_computes_the_direct_field():
    in_nf = transferable_width(2, 4) + 1
    state = random_state(published_layout(in_nf, 256, 9))
    net = EGNNVectorField(in_nf, 256, 9)
    load_published_state(net, state)
    gen = torch.Generator().manual_seed(1)
    h0 = torch.cat([F.one_hot(torch.randint(0, 81, (6,), generator=gen), 81).double(),
                    torch.full((6, 1), 0.3, dtype=torch.float64)], -1)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    v = net.double()(0.3, x[None], h0[None, :, :-1])[0]
    assert torch.allclose(v, direct_velocity(state, 9, h0, x), atol=1e-9)


def test_strict_loading_refuses_missing_extra_and_unprefixed_keys():
    state = random_state(published_layout(22, 16, 2))
    net = EGNNVectorField(22, 16, 2)
    load_published_state(net, state)
    with pytest.raises(WeightsError, match="missing"):
        load_published_state(net, {k: v for k, v in state.items() if "att_mlp" not in k})
    with pytest.raises(WeightsError, match="unexpected"):
        load_published_state(net, {**state, "net.egnn.gcl_2.att_mlp.0.bias": torch.zeros(1)})
    with pytest.raises(WeightsError, match="net."):
        load_published_state(net, {k[len("net."):]: v for k, v in state.items()})
    with pytest.raises(WeightsError, match="shape"):
        load_into(EGNNVectorField(22, 16, 2), {**state, "net.egnn.embedding.weight": torch.zeros(16, 21)}, LAYOUT)


class FakeContext(RunContext):
    """Training data = jittered copies of the minimized structure (the published path only needs sigma)."""

    def training_positions(self, system_name):
        x0 = self.task.system(system_name).build().minimized_positions
        return x0[None] + 0.02 * np.random.default_rng(0).standard_normal((16, *x0.shape))

    def training_data_hash(self, system_name=None):
        return "fake-jittered-minimum"


@pytest.mark.slow
def test_published_aldp_file_goes_through_the_store_into_the_method(tmp_path):
    """Full paper size (C 256, 5 layers, in_nf 22) from a .pth in the published layout; log q = direct.

    One Euler step (a single field evaluation and exact trace) keeps it to about a minute on a loaded CPU."""
    state = random_state(published_layout(22, 256, 5), seed=3)
    for k in list(state):  # tame coordinate heads so the ODE stays cheap
        if k.endswith("coord_mlp.2.weight"):
            state[k] = state[k] * 0.05
    src = tmp_path / "download" / published("ecnfpp_Ace-A-Nme_0").filename
    src.parent.mkdir(parents=True)
    torch.save(state, src)
    store = WeightsStore(tmp_path / "weights")
    import_published("ecnfpp_Ace-A-Nme_0", tmp_path / "download", store)
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="paper", budget=10, task=task, systems=task.systems, work_dir=tmp_path, weights=store)
    method = ECNF(weights="published", solver="euler", step_size=1.0, divergence="exact")
    method.configure(task, "paper")
    method.setup(task, ctx)
    system = task.systems[0].build()
    assert method.parameter_count() == 2_316_827
    sigma = method.models[system.name].sigma
    x = torch.as_tensor(system.minimized_positions, dtype=torch.float32)[None]
    lq = method.log_q(system, x, ctx).detach()
    # direct: the published classes (spec 4.8) as one-hots + t, the edge-list field, the same solver settings
    classes = torch.as_tensor(atom_classes(22, PUBLISHED_GROUPS[22]))
    onehot = F.one_hot(classes, 21).double()

    def field(t, y):
        h0 = torch.cat([onehot, torch.full((22, 1), float(t), dtype=torch.float64)], -1)
        return torch.stack([direct_velocity(state, 5, h0, yi) for yi in y])

    xd = (x.double() - x.double().mean(1, keepdim=True)) / sigma
    direct, _ = log_prob(field, xd, SolverSettings(method="euler", step_size=1.0))
    direct = direct - 3 * 21 * math.log(sigma)
    assert torch.allclose(lq.double(), direct, rtol=1e-4, atol=1e-3)


def up_to_4aa_inputs(system, t: float) -> torch.Tensor:
    """Spec 4.8's transferable node features of one unpadded peptide, written out: one-hots of atom type - 1
    (54), residue position - 1 (4), residue type - 1 (20), length - 2 (3), then t (82 columns)."""
    enc = atom_encodings(system)
    n = system.n_atoms
    parts = [F.one_hot(torch.as_tensor(enc.atom_type) - 1, 54), F.one_hot(torch.as_tensor(enc.aa_pos) - 1, 4),
             F.one_hot(torch.as_tensor(enc.aa_type) - 1, 20), F.one_hot(torch.full((n,), enc.seq_len - 2), 3)]
    return torch.cat([*(p.double() for p in parts), torch.full((n, 1), float(t), dtype=torch.float64)], -1)


def test_published_up_to_4aa_file_goes_through_the_store_into_the_transferable_method(tmp_path):
    """The transferable layout (in_nf 82, C 256, 9 layers) from a .pth through ``import_published`` into
    ``ecnf-transferable`` (paper tier: published weights, 0.28 nm); log q of a dipeptide = direct computation.

    GG (19 atoms), the smallest dipeptide, and one Euler step keep the exact traces to ~10 s."""
    state = random_state(published_layout(82, 256, 9), seed=5)
    for k in list(state):  # tame coordinate heads so one Euler step stays well-behaved
        if k.endswith("coord_mlp.2.weight"):
            state[k] = state[k] * 0.05
    src = tmp_path / "download" / published("ecnfpp_up_to_4aa").filename
    src.parent.mkdir(parents=True)
    torch.save(state, src)
    store = WeightsStore(tmp_path / "weights")
    import_published("ecnfpp_up_to_4aa", tmp_path / "download", store)
    task = get_task("2AA")
    systems = (corpus_spec("GG"),)
    ctx = RunContext(seed=0, tier="paper", budget=10, task=task, systems=systems, work_dir=tmp_path, weights=store)
    method = ECNFTransferable(solver="euler", step_size=1.0, divergence="exact")
    method.configure(task, "paper")
    method.setup(task, ctx)
    assert method.parameter_count() == 4_191_835 and method.diagnostics(systems[0].build(), ctx)["weights"] == "published"
    system = systems[0].build()
    x = torch.as_tensor(system.initial_positions, dtype=torch.float32)[None]
    lq = method.log_q(system, x, ctx).detach()

    def field(t, y):
        return torch.stack([direct_velocity(state, 9, up_to_4aa_inputs(system, float(t)), yi) for yi in y])

    xd = (x.double() - x.double().mean(1, keepdim=True)) / 0.28  # the published up_to_4aa scale (spec 1.2.2)
    direct, _ = log_prob(field, xd, SolverSettings(method="euler", step_size=1.0))
    direct = direct - 3 * (system.n_atoms - 1) * math.log(0.28)
    assert torch.allclose(lq.double(), direct, rtol=1e-4, atol=1e-3)
