"""The bundled demo: a two-month subset of UCI Online Retail (CC BY 4.0) shipped in ``data/demo/``.

One place defines how it is read, so the CLI's ``demo`` command, the app and the tests agree.
"""

from __future__ import annotations

from pathlib import Path

from .ingest import DatasetSpec, EventFilters, load
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


DEMO_LABEL = "Bundled demo: Online Retail, Oct–Nov 2011 (UCI, CC BY 4.0)"


def demo_spec(path: str | Path = DEMO_FILE) -> DatasetSpec:
    """How the demo (or any Online Retail export) is read: invoices as baskets, cancelled invoices, returns and
    fees dropped, descriptions as item names."""
    return DatasetSpec(paths=[str(path)], format="events", filters=ONLINE_RETAIL_FILTERS, name_column="Description")


def load_demo_dataset(path: str | Path = DEMO_FILE, *, progress: ProgressCallback | None = None) -> Dataset:
    """Read the demo (or any Online Retail export) as :func:`demo_spec` describes."""
    return load(demo_spec(path), progress=progress)
