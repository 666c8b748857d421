"""The one index of published checkpoints that bgbench's reference methods can load.

``benchmark.weights.published`` imports this module (lazily) to fill its registry, so that
``bgbench weights fetch|import NAME`` knows every file. A family with released weights adds one
``register(PublishedWeights(...))`` call per file here: bgbench's name, the method that loads it,
the hub repository and path, a description, and the spec section that fixes its state-dict keys
(its ``Layout`` lives with the family). Keep the entries here, not in the families, so that listing
published weights never imports a model.

No entries yet: ROBIN (danyalrehman17/robin-transferable, robin.ckpt), Prose, TarFlow and ECNF++
(transferable-samplers/model-weights) are added by their families.
"""

from __future__ import annotations

from benchmark.weights.published import PublishedWeights, register  # noqa: F401  (what entries use)
