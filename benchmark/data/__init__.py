"""Reference data: local MD (quick tier), published data sets (paper tier), the cache that holds them.

Public API (what evaluation and methods call)::

    load_reference(task, tier, system, data_dir=None) -> ReferenceData
    content_hashes(ref) -> dict[str, str]
    load_training_positions(task, tier, system, data_dir=None) -> (T, N, 3) nm    # the train split only
    training_data_hash(task, tier, system, data_dir=None) -> str                  # keys weights trained on it
    data_dir() -> Path
    open_training_corpus(tier, data_dir=None) -> TrainingCorpus           # streams CorpusEntry per peptide

Modules, imported one way only (tests/test_import_graph.py checks it)::

    store        folders, manifests, hashes (the cache)
    formats      file layouts: local splits, published npy / npz / shards, PDB text
    basins       backbone basin labels and populations with errors
    corpus       reading the training corpus of a tier
    reference    reading the evaluation reference of a system
    starts, replica_md, generate, corpus_md, published   making data (local MD, imports)
    cards        the data cards, rendered from all of the above
"""

from benchmark.data.corpus import CorpusEntry, TrainingCorpus, open_training_corpus
from benchmark.data.reference import (
    ReferenceData, content_hashes, load_reference, load_training_positions, training_data_hash,
)
from benchmark.data.store import data_dir

__all__ = ["CorpusEntry", "ReferenceData", "TrainingCorpus", "content_hashes", "data_dir", "load_reference",
           "load_training_positions", "open_training_corpus", "training_data_hash"]
