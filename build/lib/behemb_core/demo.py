"""The bundled demo: a two-month subset of UCI Online Retail (CC BY 4.0) shipped in ``data/demo/``.

One place defines how it is read, so the CLI's ``demo`` command, the app and the tests agree.
"""

from __future__ import annotations

from pathlib import Path

from .ingest import EventFilters, read_event_log
from .ingest.dataset import Dataset
from .progress import ProgressCallback

DEMO_FILE = Path(__file__).resolve().parents[1] / "data" / "demo" / "online-retail-2011-10-11.csv.gz"

# Stock codes of Online Retail that are charges and fees, not products (postage, discounts, manual entries...).
ONLINE_RETAIL_NON_PRODUCTS = [
    "POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
]

ONLINE_RETAIL_FILTERS = EventFilters(
    exclude_session_prefix="C",  # cancelled invoices
    exclude_items=ONLINE_RETAIL_NON_PRODUCTS,
    drop_nonpositive_weight=True,  # returns
)


def load_demo_dataset(path: str | Path = DEMO_FILE, *, progress: ProgressCallback | None = None) -> Dataset:
    """Read the demo (or any Online Retail export): invoices as baskets, descriptions as item names."""
    return read_event_log(path, filters=ONLINE_RETAIL_FILTERS, name_column="Description", progress=progress)
