"""Where numba keeps compiled kernels on disk, so that they are compiled once per machine, not once per process.

numba writes the machine code of every function decorated with ``cache=True`` (all of behemb's kernels, most of
pynndescent's) to a cache folder and loads it in later processes instead of compiling again. By default that
folder is the ``__pycache__`` next to each module's source (for an installed package: inside site-packages,
often not writable) or, failing that, numba's own user folder. :func:`configure` — run by
``behemb_core/__init__.py`` before any submodule imports numba — points ``NUMBA_CACHE_DIR`` at one folder of our
own instead:

* ``$NUMBA_CACHE_DIR`` when the user set it (it is never overridden);
* otherwise ``$XDG_CACHE_HOME/behemb/numba``, i.e. ``~/.cache/behemb/numba`` by default, created if needed;
* when that folder cannot be created or written, nothing is set and numba's default applies.

Deleting the folder is always safe: the kernels are compiled again on next use. numba checks each entry against
the content of the source file that defines the function and against numba's version, not against the files of
the functions it calls; after upgrading umap-learn or pynndescent, deleting the folder is the safe choice.

umap-learn decorates its kernels without ``cache=True`` (so it recompiles them in every process);
:func:`enable_disk_cache` turns numba's disk cache on for a named list of them (see
``behemb_core.projection``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

ENV = "NUMBA_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/behemb/numba`` (``~/.cache/behemb/numba`` when ``XDG_CACHE_HOME`` is unset or empty)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "behemb" / "numba"


def configure() -> str | None:
    """Set ``NUMBA_CACHE_DIR`` to :func:`default_cache_dir` unless the user set it; return the folder in use.

    Returns ``None`` (and sets nothing) when the default folder cannot be created or written. When numba was
    already imported, its configuration is reloaded so that functions decorated from now on use the folder
    (functions decorated earlier keep the folder they were given).
    """
    chosen = os.environ.get(ENV)
    if not chosen:
        folder = default_cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        if not os.access(folder, os.W_OK | os.X_OK):
            return None
        chosen = str(folder)
        os.environ[ENV] = chosen
    numba = sys.modules.get("numba")
    if numba is not None:
        from numba.core import config

        # numba sets its config attributes at run time (reload_config), so its stubs do not declare them.
        if config.CACHE_DIR != chosen:  # type: ignore[attr-defined]
            config.reload_config()
    return chosen


def enable_disk_cache(module_name: str, names: Iterable[str]) -> list[str]:
    """Turn on numba's disk cache for the jitted functions ``names`` of module ``module_name``; return the names
    enabled.

    For functions decorated without ``cache=True`` in a library we do not control (umap-learn). A name is
    skipped when it is missing, not a numba dispatcher, already cached, a closure, or when another jitted
    function of the module wrapping the same Python function already has a disk cache: numba's cache index
    does not tell jit options such as ``parallel`` apart, so two cached dispatchers of one function (umap has
    a serial and a parallel one of its layout epoch) would load each other's code. Call it before the first
    call of the functions: code compiled before is not written. A function that cannot be cached (e.g. it
    uses a global array) is still compiled normally; numba only warns.
    """
    module = sys.modules.get(module_name)
    if module is None:
        return []
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba reorganised its internals: simply do not cache
        return []
    dispatchers = [d for d in vars(module).values() if isinstance(d, Dispatcher)]
    enabled = []
    for name in names:
        disp = getattr(module, name, None)
        if not isinstance(disp, Dispatcher) or not isinstance(getattr(disp, "_cache", None), NullCache):
            continue
        if disp.py_func.__closure__ is not None:
            continue
        if any(d is not disp and d.py_func is disp.py_func and not isinstance(getattr(d, "_cache", None), NullCache)
               for d in dispatchers):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                disp.enable_caching()
            except (RuntimeError, OSError):  # pragma: no cover - no usable cache location: run uncached
                continue
        enabled.append(name)
    return enabled


def cache_dir() -> Path | None:
    """The folder numba's disk cache uses now (``$NUMBA_CACHE_DIR``), or ``None`` when numba's default applies."""
    chosen = os.environ.get(ENV)
    return Path(chosen) if chosen else None
