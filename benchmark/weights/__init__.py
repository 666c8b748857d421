"""The weights store: trained and published checkpoints, keyed, hashed, loaded without unpickling.

The harness owns weights the way it owns the energy meter and the records: a method asks the store
for an entry by key (``WeightsKey``), trains into it under a lock or loads it, and published files
arrive through ``bgbench weights fetch|import``; weights committed to the repository are found read-only
after the local store (``SHIPPED_ROOT``). See store.py, published.py, safe_load.py, layout.py.
"""

from benchmark.weights.layout import Layout, load_into
from benchmark.weights.published import PUBLISHED, PublishedWeights, fetch, import_published, published_file, register
from benchmark.weights.safe_load import load_state_dict
from benchmark.weights.store import (
    SHIPPED_ROOT, ShippedEntry, WeightsEntry, WeightsError, WeightsKey, WeightsStore, default_weights_dir, ship,
)

__all__ = [
    "Layout", "PUBLISHED", "PublishedWeights", "SHIPPED_ROOT", "ShippedEntry", "WeightsEntry", "WeightsError", "WeightsKey",
    "WeightsStore", "default_weights_dir", "fetch", "import_published", "load_into", "load_state_dict", "published_file",
    "register", "ship",
]
