"""The Spark engine: the part of a training job that grows with *events*, run on an existing Spark cluster.

Spark (PySpark) reads the event logs or session files, filters rows (each removed row counted under its reason),
normalises ids, sessionizes per user, cleans the sessions, and counts windowed item pairs; it writes the result
to a *work dir* (:mod:`behemb_core.prepared` describes the layout). Everything that grows with *items* — the
co-occurrence matrix, PPMI, the SVD, the checks and the version write — runs on the driver with the library's own
code (:func:`behemb_core.prepared.train_prepared`), so a version trained this way is the version the
single-machine engine trains from the same data.

pyspark is an optional dependency (``pip install -r requirements-spark.txt`` or ``pip install 'behemb[spark]'``)
and needs Java 17. It is imported only inside :mod:`behemb_core.spark.job`; importing this package or the rest of
the library never starts or imports Spark.
"""

from __future__ import annotations

from ..errors import ConfigError

INSTALL_HINT = (
    "the Spark engine needs pyspark and Java 17: pip install -r requirements-spark.txt "
    "(or pip install 'behemb[spark]'), and a Java runtime (Debian: apt-get install openjdk-17-jre-headless)"
)


def require_pyspark() -> None:
    """Raise a :class:`~behemb_core.errors.ConfigError` that says how to install pyspark when it is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
