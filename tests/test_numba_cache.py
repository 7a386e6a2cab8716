"""numba's disk cache: importing behemb_core points NUMBA_CACHE_DIR at ~/.cache/behemb/numba (XDG_CACHE_HOME
respected) unless the user chose a folder, so kernels compile once per machine and later processes load them;
umap's kernels on the projection path, which umap compiles without ``cache=True``, are cached there too.

Subprocesses, because the folder is fixed when numba's configuration is read; none of them compiles umap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import pytest
from numba.core.caching import FunctionCache, NullCache

from behemb_core import _numba_cache

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, os
import behemb_core, numba
print(json.dumps({"config": numba.config.CACHE_DIR, "env": os.environ.get("NUMBA_CACHE_DIR")}))
"""


def run_python(code: str, env_updates: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(env_updates)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def probe(env_updates: dict[str, str], *, before: str = "") -> dict:
    return json.loads(run_python(before + PROBE, env_updates))


def test_default_folder_is_behemb_numba_under_the_user_cache(tmp_path: Path) -> None:
    got = probe({"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    want = str(tmp_path / "xdg" / "behemb" / "numba")
    assert got == {"config": want, "env": want}
    assert Path(want).is_dir()

    home = tmp_path / "home"
    home.mkdir()
    got = probe({"HOME": str(home), "XDG_CACHE_HOME": ""})  # empty XDG_CACHE_HOME counts as unset
    want = str(home / ".cache" / "behemb" / "numba")
    assert got == {"config": want, "env": want}


def test_a_folder_chosen_by_the_user_is_kept(tmp_path: Path) -> None:
    mine = str(tmp_path / "mine")
    got = probe({"NUMBA_CACHE_DIR": mine, "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert got == {"config": mine, "env": mine}
    assert not (tmp_path / "xdg").exists()


def test_numba_imported_before_behemb_core_still_uses_the_folder(tmp_path: Path) -> None:
    got = probe({"XDG_CACHE_HOME": str(tmp_path)}, before="import numba\n")
    assert got["config"] == got["env"] == str(tmp_path / "behemb" / "numba")


def test_an_unusable_location_leaves_numba_to_its_default(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    got = probe({"XDG_CACHE_HOME": str(blocker)})
    assert got == {"config": "", "env": None}


def test_a_kernel_compiled_in_one_process_is_loaded_from_disk_in_the_next(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import json
        import numpy as np
        from behemb_core.neighbors import _select_top_k, exact_top_k
        x = np.eye(6, dtype=np.float32)[:, :4].copy()
        exact_top_k(x, x, 2, skip=np.arange(6))
        print(json.dumps({"hits": sum(_select_top_k.stats.cache_hits.values()),
                          "path": _select_top_k._cache.cache_path}))
    """)
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = json.loads(run_python(code, env))
    folder = tmp_path / "behemb" / "numba"
    assert first["hits"] == 0  # empty cache: compiled here...
    assert Path(first["path"]).is_relative_to(folder)
    assert list(folder.rglob("neighbors._select_top_k-*.nbi")) and list(folder.rglob("neighbors._select_top_k-*.nbc"))
    second = json.loads(run_python(code, env))
    assert second["hits"] >= 1  # ...and loaded, not compiled, in a fresh process


def test_umap_kernels_of_the_projection_are_cached_on_disk() -> None:
    pytest.importorskip("umap")
    import numpy as np

    from behemb_core.projection import project_embeddings
    from behemb_core.projection.fit import _UMAP_DISK_CACHED

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    project_embeddings(x, {"max_fit_items": 30, "n_neighbors": 5, "n_epochs": 6})
    import umap.layouts

    for module, names in _UMAP_DISK_CACHED.items():
        for name in names:  # fails when an umap upgrade renamed one: update the list
            disp = getattr(sys.modules[module], name)
            assert isinstance(disp._cache, FunctionCache), f"{module}.{name}"
            if numba.config.CACHE_DIR:
                assert Path(disp._cache.cache_path).is_relative_to(numba.config.CACHE_DIR)
    for disp in (sys.modules["umap.umap_"].smooth_knn_dist, sys.modules["umap.umap_"].compute_membership_strengths,
                 umap.layouts._nb_optimize_layout_euclidean_single_epoch):
        assert os.path.isfile(disp._cache._cache_file._index_path)  # written by this or an earlier process
    # umap's parallel twin of the layout epoch wraps the same function: it must not share the cache
    assert isinstance(umap.layouts._nb_optimize_layout_euclidean_single_epoch_parallel._cache, NullCache)


def test_enable_disk_cache_picks_only_what_is_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nb_cache_probe_mod.py").write_text(textwrap.dedent("""
        from numba import njit

        def f(x):
            return x + 1

        serial = njit(f)
        parallel = njit(parallel=True)(f)

        @njit
        def plain(x):
            return x * 2

        @njit(cache=True)
        def cached(x):
            return x - 1

        def make():
            y = 3

            @njit
            def inner(x):
                return x + y
            return inner

        closure = make()
        not_jitted = f
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    import nb_cache_probe_mod as mod

    try:
        enabled = _numba_cache.enable_disk_cache(
            "nb_cache_probe_mod", ["serial", "parallel", "plain", "cached", "closure", "not_jitted", "missing"])
        assert enabled == ["serial", "plain"]
        assert isinstance(mod.serial._cache, FunctionCache) and isinstance(mod.plain._cache, FunctionCache)
        assert isinstance(mod.parallel._cache, NullCache)  # same function as `serial`, other options
        assert isinstance(mod.closure._cache, NullCache)
        assert _numba_cache.enable_disk_cache("nb_cache_probe_mod", ["serial"]) == []  # already on
        assert _numba_cache.enable_disk_cache("not_imported_anywhere", ["x"]) == []
    finally:
        sys.modules.pop("nb_cache_probe_mod", None)
