"""The one error boundary of every front end (the CLI, the app's pages and its training-job thread).

Whatever escapes a command or a page becomes one line for the user:

* a :class:`~behemb_core.errors.BehembError` — its own message (it names the file, line, field or option);
* an ``OSError`` — ``<what> (<path>): <reason>``, e.g. ``could not write (/x/store/versions): read-only file
  system``; the reason is said in plain words for the common cases (full disk, file-size limit, read-only,
  permission, too long a name, a file where a folder is expected, a folder where a file is expected);
* a path with a NUL byte (``ValueError: embedded null byte`` from the ``os`` functions), a package behemb
  depends on that is not installed (``ModuleNotFoundError`` naming one of :data:`DISTRIBUTIONS`) and running out
  of memory — said as such. Any other ``ImportError`` (one of our own modules, a name missing from a module, a
  package we do not depend on) is a bug, not the user's to fix: it is unexpected;
* anything else is *unexpected*: :func:`unexpected_message` gives one line with the exception type, and the
  front end keeps the traceback (the CLI prints it with ``--debug``, the app logs it under a reference).

``what`` and a fallback path come from context: ``with doing("read the input", path): ...`` marks an
``OSError`` raised inside (the innermost context wins), which matters because ``write()`` on an open file
raises ``ENOSPC``/``EFBIG`` without a file name. Without a context the verb follows the error number
("could not write" for a full disk or a read-only file system, else "could not access").

Nothing here imports Streamlit or the store; :func:`describe` is a pure function of the exception.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import BehembError

#: Plain words for the error numbers users meet (``strerror`` for the rest).
PLAIN_REASONS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device (the disk is full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file-size limit was reached)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "the name is too long (more than 255 characters in one part, or 4096 in all)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "it already exists",
    errno.ENOTEMPTY: "the folder is not empty",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error (a failing disk or network file system)",
}
#: Error numbers that mean a write failed (the default verb is then "could not write").
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})

_CONTEXT_ATTR = "_behemb_context"
_TMP_PART = re.compile(r"/\.(?:tmp-|[^/]*\.tmp-)[^/]*")  # the store's and exports' temporary work names
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain_reason(exc: OSError) -> str:
    """The reason of an ``OSError`` in plain words (``strerror`` when there is no plainer one)."""
    if exc.errno in PLAIN_REASONS:
        return PLAIN_REASONS[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


def is_nul_path_error(exc: BaseException) -> bool:
    """True for the ``ValueError`` the ``os`` functions raise for a path with a NUL byte."""
    return type(exc) is ValueError and "null byte" in str(exc)


@contextmanager
def doing(what: str | None = None, path: Any = None) -> Iterator[None]:
    """Name what the code inside does (``"read the input"``) and the path it works on, for an ``OSError`` (or
    a NUL-byte ``ValueError``) that escapes: the boundary then says ``could not <what> (<path>): <reason>``.
    Only the innermost context is kept; the error's own file name wins over ``path``."""
    try:
        yield
    except (OSError, ValueError) as exc:
        if not hasattr(exc, _CONTEXT_ATTR) and (isinstance(exc, OSError) or is_nul_path_error(exc)):
            try:
                setattr(exc, _CONTEXT_ATTR, (what, None if path is None else str(path)))
            except (AttributeError, TypeError):  # pragma: no cover - exceptions that refuse attributes
                pass
        raise


def _shown_path(path: str) -> str:
    """A path for a message: the store's temporary work names collapsed to their folder."""
    return _TMP_PART.sub("", path) or path


def _os_message(exc: OSError) -> str:
    what, ctx_path = getattr(exc, _CONTEXT_ATTR, (None, None))
    verb = f"could not {what}" if what else (
        "could not write" if exc.errno in WRITE_ERRNOS else "could not access")
    paths = [str(p) for p in (exc.filename, exc.filename2) if p not in (None, "")]
    if not paths and ctx_path:
        paths = [ctx_path]
    where = f" ({' → '.join(_shown_path(p) for p in paths)})" if paths else ""
    return f"{verb}{where}: {plain_reason(exc)}"


#: Our own top-level packages: a module of theirs that cannot be imported is a bug (a typo, a moved module).
OWN_PACKAGES = frozenset({"behemb_core", "app_support", "benchmarks"})

#: Import name → pip distribution of every third-party package behemb imports (requirements.txt, the Spark extra
#: requirements-spark.txt, and s3fs for ``s3://`` stores). Only these are a user's missing install.
DISTRIBUTIONS: dict[str, str] = {
    "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "pyarrow": "pyarrow", "sklearn": "scikit-learn",
    "gensim": "gensim", "numba": "numba", "llvmlite": "llvmlite", "umap": "umap-learn", "pynndescent": "pynndescent",
    "pydantic": "pydantic", "annotated_types": "annotated-types", "fsspec": "fsspec", "streamlit": "streamlit",
    "authlib": "Authlib", "joserfc": "joserfc", "cryptography": "cryptography", "plotly": "plotly",
    "threadpoolctl": "threadpoolctl", "faiss": "faiss-cpu", "pyspark": "pyspark", "s3fs": "s3fs",
}


def missing_distribution(exc: BaseException) -> str | None:
    """The pip distribution whose absence ``exc`` reports — a :class:`ModuleNotFoundError` for a third-party
    package behemb depends on (:data:`DISTRIBUTIONS`) — else None (our own module, or any other import failure)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top in OWN_PACKAGES:
        return None
    return DISTRIBUTIONS.get(top)


def describe(exc: BaseException) -> str | None:
    """The one-line user message for an expected error, or ``None`` when ``exc`` is unexpected (a bug)."""
    if isinstance(exc, BehembError):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = _os_message(exc)
    elif is_nul_path_error(exc):
        what, path = getattr(exc, _CONTEXT_ATTR, (None, None))
        head = f"could not {what}" if what else "invalid path"
        text = f"{head}{f' ({path!r})' if path else ''}: a path contains a NUL byte"
    elif (dist := missing_distribution(exc)) is not None:
        text = f"a required package is missing ({exc}); pip install {dist}"
    elif isinstance(exc, MemoryError):
        text = "not enough memory for this job (MemoryError); try a smaller input or a machine with more memory"
    elif type(exc).__module__.split(".")[0] in ("pyspark", "py4j"):
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        text = f"the Spark job failed: {first[:400]}"
    else:
        return None
    return one_line(text)


def unexpected_message(exc: BaseException, *, hint: str = "run with --debug for the traceback") -> str:
    """One line for an error nobody anticipated: ``unexpected <Type>: <message> — <hint>``."""
    detail = one_line(str(exc))
    if len(detail) > 300:
        detail = detail[:297] + "…"
    return f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else "") + (f" — {hint}" if hint else "")


def one_line(text: str) -> str:
    """``text`` on one printable line: line breaks become spaces, other control characters escapes."""
    text = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
