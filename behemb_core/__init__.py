"""behemb_core: learn item embeddings from behavior, check them, and publish immutable versions.

The package is plain Python (it never imports Streamlit). Entry points:

* ``behemb_core.ingest`` — read session JSONL or event logs (sessionized per user), item metadata, summaries;
* ``behemb_core.methods.registry`` — the five methods (``cooc_softmax``, ``ppmi_svd``, ``item2vec``, ``graph``,
  ``fusion``) and what each can use;
* ``behemb_core.train`` — fit a method and save a draft version;
* ``behemb_core.store`` — the versioned, checksummed file store and exports;
* ``python -m behemb_core`` — the command line.

Importing the package points numba's on-disk kernel cache at ``~/.cache/behemb/numba`` unless
``NUMBA_CACHE_DIR`` is set (see ``behemb_core._numba_cache``), so compiled kernels are reused across processes.
"""

from . import _numba_cache

_numba_cache.configure()  # before any submodule imports numba, hence the imports below it (E402)

from .errors import (  # noqa: E402
    BehembError,
    Cancelled,
    ConfigError,
    FitError,
    InputError,
    IntegrityError,
    StoreError,
    VersionExistsError,
)
from .progress import ProgressCallback, ProgressEvent  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BehembError",
    "Cancelled",
    "ConfigError",
    "FitError",
    "InputError",
    "IntegrityError",
    "StoreError",
    "VersionExistsError",
    "ProgressCallback",
    "ProgressEvent",
    "__version__",
]
