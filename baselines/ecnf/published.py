"""Published ECNF++ checkpoints (specs/flows-and-protocol.md 5.4) loaded into ``EGNNVectorField``.

The files ``single_system/ecnf++_{SEQ}_{seed}.pth`` (and ``transferable/ecnf++_up_to_4aa.pth``) of
the hub repository ``transferable-samplers/model-weights`` are plain state dicts of the Lightning
module: every key starts with ``net.``, then ``egnn.embedding``, ``egnn.embedding_out`` and per
layer ``egnn.gcl_{k}.{edge_mlp.0, edge_mlp.2, node_mlp.0, node_mlp.2, coord_mlp.0, coord_mlp.2,
att_mlp.0}``. ``EGNNVectorField`` keeps exactly those module names, so the layout only strips the
prefix; loading is strict (a key without ``net.``, a missing or unused key, or a shape mismatch is
a WeightsError).

Not checkable here (spec 7): that the published model's atom order is bgbench's topology order
(the method records which atoms each published class group covers), and the standardization
scale, which the files do not hold (computed from the training split, as the reference does).
"""

from __future__ import annotations

from pathlib import Path

import torch

from baselines.ecnf.egnn import EGNNVectorField
from benchmark.weights import Layout, WeightsError, load_into, load_state_dict

PREFIX = "net."
LAYOUT = Layout(name="ecnf++ EGNN vector field (flows-and-protocol.md 5.4)", strip_prefix=PREFIX)

#: bgbench task -> the sequence name of its published single-system checkpoint
SEQUENCES = {"ALDP": "Ace-A-Nme", "AL3": "AAA", "AL4": "Ace-AAA-Nme", "AL6": "AAAAAA"}

#: The published transferable checkpoint (``transferable/ecnf++_up_to_4aa.pth``): same layout, in_nf 82,
#: 9 layers; peptides of 2 to 4 residues standardized by the up_to_4aa precomputed std (spec 1.2.2).
TRANSFERABLE_NAME = "ecnfpp_up_to_4aa"
TRANSFERABLE_RESIDUES = (2, 4)
TRANSFERABLE_SIGMA_NM = 0.28


def published_name(sequence: str, seed: int) -> str:
    """bgbench's name of a published single-system checkpoint, e.g. ``ecnfpp_AAA_0`` ('+' is not a name character)."""
    return f"ecnfpp_{sequence}_{int(seed)}"


def load_published_state(net: EGNNVectorField, state: dict[str, torch.Tensor]) -> None:
    """Load a published state dict into ``net`` strictly (WeightsError on any mismatch)."""
    foreign = sorted(k for k in state if not k.startswith(PREFIX))
    if foreign:
        raise WeightsError(f"Published ECNF++ keys must all start with {PREFIX!r}; found {foreign[:5]}"
                           f"{' ...' if len(foreign) > 5 else ''} (is this an ECNF++ file?).")
    load_into(net, state, LAYOUT)


def load_published_file(net: EGNNVectorField, path: Path) -> None:
    """Read a published ``.pth`` without unpickling code (benchmark.weights.safe_load) and load it."""
    load_published_state(net, load_state_dict(path, container_key=None))


__all__ = ["LAYOUT", "PREFIX", "SEQUENCES", "TRANSFERABLE_NAME", "TRANSFERABLE_RESIDUES", "TRANSFERABLE_SIGMA_NM",
           "load_published_file", "load_published_state", "published_name"]
