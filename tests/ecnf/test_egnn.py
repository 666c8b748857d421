"""The ECNF++ vector field: equivariance, zero CoM, padding, atom classes, and the published parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from baselines.ecnf.egnn import EGNNVectorField
from baselines.ecnf.features import PUBLISHED_GROUPS, atom_classes, single_system_features, transferable_width
from benchmark.tasks import get_task
from tests.ecnf.helpers import lively, random_rotation

N, FEATS = 7, 5


def field_and_features(seed: int = 0) -> tuple[EGNNVectorField, torch.Tensor]:
    torch.manual_seed(seed)
    net = lively(EGNNVectorField(FEATS + 1, 16, 3)).double()
    feats = F.one_hot(torch.tensor([0, 1, 2, 2, 3, 4, 4]), FEATS).double()[None]
    return net, feats


def test_rotating_and_translating_the_input_rotates_the_output_and_it_has_zero_com():
    net, feats = field_and_features()
    x = torch.randn(3, N, 3, dtype=torch.float64)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    v = net(t, x, feats)
    assert v.abs().max() > 1e-2  # the field is not trivially small
    rot, shift = random_rotation(1), torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    moved = net(t, x @ rot.T + shift, feats)
    assert torch.allclose(moved, v @ rot.T, atol=1e-5)
    assert torch.allclose(v.mean(1), torch.zeros(3, 3, dtype=torch.float64), atol=1e-12)


def test_permuting_atoms_with_their_features_permutes_the_output():
    net, feats = field_and_features()
    x = torch.randn(2, N, 3, dtype=torch.float64)
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    v = net(0.4, x, feats)
    assert torch.allclose(net(0.4, x[:, perm], feats[:, perm]), v[:, perm], atol=1e-10)


def test_padding_with_a_mask_gives_the_unpadded_field_and_zeros_on_padding():
    net, feats = field_and_features()
    x = torch.randn(2, N, 3, dtype=torch.float64)
    v = net(0.3, x, feats)
    padded_x = torch.cat([x, torch.randn(2, 3, 3, dtype=torch.float64)], 1)
    padded_f = torch.cat([feats, torch.zeros(1, 3, FEATS, dtype=torch.float64)], 1)
    mask = torch.zeros(2, N + 3, dtype=torch.bool)
    mask[:, :N] = True
    vp = net(0.3, padded_x, padded_f, mask)
    assert torch.allclose(vp[:, :N], v, atol=1e-10)
    assert torch.equal(vp[:, N:], torch.zeros_like(vp[:, N:]))


def test_published_class_groups_give_the_published_input_widths():
    # spec 4.8: in_nf = one-hot width (largest class id + 1) + time = 22 / 34 / 42 / 64
    for n, in_nf in ((22, 22), (33, 34), (42, 42), (63, 64)):
        ids = atom_classes(n, PUBLISHED_GROUPS[n])
        assert ids.max() + 2 == in_nf
    assert list(atom_classes(22, PUBLISHED_GROUPS[22])[:4]) == [0, 2, 2, 2]


@pytest.mark.parametrize("rule", ["published", "topology"])
def test_aldp_features_have_the_published_width(rule):
    system = get_task("ALDP").systems[0].build()
    feats = single_system_features(system, rule)
    assert feats.shape == (1, 22, 21) and torch.equal(feats.sum(-1), torch.ones(1, 22))


# spec 4.7 (verified by instantiating the reference modules): parameters and state-dict entries
@pytest.mark.parametrize("in_nf, layers, params, entries", [
    (22, 5, 2_316_827, 69), (34, 5, 2_322_983, 69), (42, 5, 2_327_087, 69), (64, 5, 2_338_373, 69),
    (transferable_width(2, 4) + 1, 9, 4_191_835, 121),
])
def test_paper_configs_have_the_published_parameter_counts(in_nf, layers, params, entries):
    net = EGNNVectorField(in_nf, 256, layers)
    assert sum(p.numel() for p in net.parameters()) == params
    assert len(net.state_dict()) == entries
