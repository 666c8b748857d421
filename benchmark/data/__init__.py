"""Reference data: local MD (quick tier), published data sets (paper tier), the cache that holds them.

Public API (what evaluation and methods call)::

    load_reference(task, tier, system, data_dir=None) -> ReferenceData
    content_hashes(ref) -> dict[str, str]
    data_dir() -> Path
    iter_training_corpus(tier, data_dir=None) -> Iterator[(sequence, (T, N, 3) nm)]
"""

from benchmark.data.store import data_dir
from benchmark.data.reference import (
    ReferenceData, content_hashes, load_reference, load_training_positions, training_data_hash,
)
from benchmark.data.corpus import iter_training_corpus

__all__ = ["load_training_positions", "training_data_hash", "ReferenceData", "content_hashes", "data_dir", "iter_training_corpus", "load_reference"]
