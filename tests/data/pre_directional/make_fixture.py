"""Run with the code of the commit before issue 24's store changes on the path (git archive HEAD behemb_core):
writes tests/data/pre_directional/: a store with two versions (int ids, string ids) written by that code, and
their exports in parquet, npy and jsonl made by that code."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from behemb_core.embeddings import make_embeddings
from behemb_core.metadata import ItemMetadata
from behemb_core.store import Store
from behemb_core.store.export import export_version
from behemb_core.vocab import Vocabulary

out = Path(sys.argv[1])
store = Store(out / "store")
rng = np.random.default_rng(24)
for name, ids in (("v_int", [3, 7, 11, 20, 42]), ("v_str", ["a-1", "b ü", "c", "d,e", "z"])):
    emb = make_embeddings(Vocabulary(ids), rng.normal(size=(5, 4)))
    meta = ItemMetadata(table=pd.DataFrame({"item_id": ids, "name": [f"product {i}" for i in ids]}))
    stats = pd.DataFrame({"item_id": ids, "events": [5, 4, 3, 2, 1], "sessions": [3, 3, 2, 1, 1]})
    store.save_version(emb, manifest={"method": "hand", "seed": 0}, name=name, item_meta=meta, item_stats=stats)
    ex = out / "exports" / name
    export_version(store, name, fmt="parquet", out=str(ex / "parquet") + "/")
    export_version(store, name, fmt="npy", out=str(ex / "npy"))
    export_version(store, name, fmt="jsonl", out=str(ex / "embeddings.jsonl"))
