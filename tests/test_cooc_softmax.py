"""cooc_softmax: the target similarity, both softmax estimators, and what the method promises.

Known answers: planted clusters, a hub that co-occurs with everything (γ decides whether it swamps the
neighbor lists), finite differences for the exact gradient, and the full gradient as the expectation the
sampled estimator approaches.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from method_contract import MethodContract

from behemb_core import softmax_fit
from behemb_core.errors import Cancelled, ConfigError
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.cooc_softmax import CoocSoftmaxConfig, use_full_softmax
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.neighbors import top_k_neighbors
from behemb_core.softmax_fit import SoftmaxFitParams, SoftmaxTrainer, fit_cosine_softmax, row_distribution
from behemb_core.softmax_sizing import effective_batch_size, effective_negatives, fit_threads
from behemb_core.synthetic import cluster_precision_at_k, sessions_from_lists
from behemb_core.target_similarity import popularity_normalize, target_similarity, top_k_by_target

FAST = {"dim": 32}


def fit(sessions, seed=0, progress=None, **values):
    cfg = parse_config("cooc_softmax", {**FAST, **values})
    return get_method("cooc_softmax").fit(TrainingInputs(sessions=sessions), cfg, seed=seed, progress=progress)


# ----------------------------------------------------------------------------------------- target similarity
def test_target_counts_harmonic_pairs_and_damps_popularity():
    s = sessions_from_lists([["a", "b", "c"], ["a", "b"]])
    t = target_similarity(s, window=10, weighting="harmonic", gamma=0.0)
    code = {x: s.vocab.code(x) for x in "abc"}
    c = t.matrix.toarray()
    assert c[code["a"], code["b"]] == pytest.approx(2.0)  # adjacent twice
    assert c[code["a"], code["c"]] == pytest.approx(0.5)  # two apart once: 1/2
    assert c[code["b"], code["c"]] == pytest.approx(1.0)
    np.testing.assert_allclose(c, c.T)
    assert np.all(np.diag(c) == 0)
    np.testing.assert_allclose(t.degree[code["a"]], 2.5)
    damped = popularity_normalize(sp.csr_matrix(c), 0.5).matrix.toarray()
    assert damped[code["a"], code["b"]] == pytest.approx(2.0 / np.sqrt(2.5 * 3.0))


def test_window_limits_pairs():
    s = sessions_from_lists([["a", "b", "c", "d"]])
    t = target_similarity(s, window=1, weighting="uniform", gamma=0.0).matrix.toarray()
    assert t[s.vocab.code("a"), s.vocab.code("c")] == 0
    assert t[s.vocab.code("a"), s.vocab.code("b")] == 1


def test_top_k_by_target_orders_by_value_then_code():
    t = sp.csr_matrix(np.array([[0, 3, 1, 3], [3, 0, 0, 0], [1, 0, 0, 2], [3, 0, 2, 0]], dtype=np.float32))
    out = top_k_by_target(t, np.array([0, 1, 2]), 3)
    assert out.tolist() == [[1, 3, 2], [0, -1, -1], [3, 0, -1]]


# ----------------------------------------------------------------------------------------- gradients
def _small_problem(n=12, dim=6, seed=3):
    rng = np.random.default_rng(seed)
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    dense = np.triu(dense, 1)
    dense = dense + dense.T
    dense[np.arange(n), (np.arange(n) + 1) % n] += 0.5  # every row non-empty
    dense[(np.arange(n) + 1) % n, np.arange(n)] += 0.5
    t = sp.csr_matrix(dense.astype(np.float32))
    e = rng.standard_normal((n, dim)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return t, e


def _exact_loss(e, p_dense, w, rows, tau):
    logits = (e[rows] @ e.T) / tau
    logits[np.arange(len(rows)), rows] = -np.inf
    logz = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    lse = logits - logz[:, None]
    lse[np.arange(len(rows)), rows] = 0
    return float((w[rows] * -(p_dense[rows] * lse).sum(1)).sum())


def test_full_gradient_matches_finite_differences():
    t, e0 = _small_problem()
    params = SoftmaxFitParams(dim=6, tau=0.5, negatives=0)
    p, w = row_distribution(t, 0.5)
    rows = np.array([0, 3, 4, 7, 11])
    trainer = SoftmaxTrainer(params, p, w, e0.astype(np.float64).astype(np.float32), np.random.default_rng(0))
    loss, touched, grad = trainer.full_gradient(rows)
    e64 = e0.astype(np.float64)
    assert loss == pytest.approx(_exact_loss(e64, p.toarray(), w, rows, 0.5), rel=1e-4)
    eps = 1e-4
    for i, j in [(0, 0), (3, 2), (5, 1), (11, 5), (9, 3)]:
        plus, minus = e64.copy(), e64.copy()
        plus[i, j] += eps
        minus[i, j] -= eps
        numeric = (_exact_loss(plus, p.toarray(), w, rows, 0.5) - _exact_loss(minus, p.toarray(), w, rows, 0.5))
        numeric /= 2 * eps * len(rows)  # the step's gradient is that of the batch mean
        assert grad[list(touched).index(i), j] == pytest.approx(numeric, rel=2e-2, abs=2e-4)


def test_sampled_gradient_approaches_the_full_gradient_on_average():
    t, e0 = _small_problem(n=30, dim=8)
    p, w = row_distribution(t, 0.5)
    rows = np.arange(0, 30, 2)
    full = SoftmaxTrainer(SoftmaxFitParams(dim=8, tau=0.5, negatives=0), p, w, e0.copy(), np.random.default_rng(0))
    _, _, g_full = full.full_gradient(rows)
    sampled = SoftmaxTrainer(SoftmaxFitParams(dim=8, tau=0.5, negatives=4096), p, w, e0.copy(),
                             np.random.default_rng(1))
    acc = np.zeros_like(g_full)
    draws = 20
    for _ in range(draws):
        _, touched, g = sampled.sampled_gradient(rows)
        acc[touched] += g
    acc /= draws
    cos = float((acc * g_full).sum() / (np.linalg.norm(acc) * np.linalg.norm(g_full)))
    assert cos > 0.995, cos
    assert np.linalg.norm(acc - g_full) < 0.05 * np.linalg.norm(g_full)


def test_sampled_estimator_masks_self_and_positives_once():
    """With negatives that are all the row's own item or its positives, only the exact positives remain."""
    t, e0 = _small_problem(n=12, dim=6)
    p, w = row_distribution(t, 0.0)
    trainer = SoftmaxTrainer(SoftmaxFitParams(dim=6, tau=0.5, negatives=64), p, w, e0.copy(), np.random.default_rng(0))
    row = 4
    allowed = np.concatenate(([row], p.indices[p.indptr[row] : p.indptr[row + 1]]))
    q = np.zeros(12)
    q[allowed] = 1.0 / len(allowed)
    trainer.q, trainer.cum_q = q, np.cumsum(q)
    loss, _, _ = trainer.sampled_gradient(np.array([row]))
    # The softmax then runs over the positives only: loss = logsumexp over positives − Σ P·s.
    pos = p.indices[p.indptr[row] : p.indptr[row + 1]]
    s = (e0[pos] @ e0[row]) / 0.5
    expected = np.log(np.exp(s).sum()) - (p.data[p.indptr[row] : p.indptr[row + 1]] * s).sum()
    assert loss == pytest.approx(float(expected), rel=1e-4)


# ----------------------------------------------------------------------------------------- the method
@pytest.fixture(scope="module")
def fitted(planted):
    return fit(planted.sessions, seed=11)


def test_planted_clusters_recovered_by_both_estimators(planted, fitted):
    cluster_of = lambda emb: planted.cluster_of[planted.sessions.vocab.codes(emb.vocab.ids)]  # noqa: E731
    precision = {}
    for softmax in ("full", "sampled"):
        res = fit(planted.sessions, seed=11, softmax=softmax, negatives=256)
        assert res.report["estimator"] == softmax
        precision[softmax] = cluster_precision_at_k(top_k_neighbors(res.embeddings, 10).codes,
                                                    cluster_of(res.embeddings))
    auto = cluster_precision_at_k(top_k_neighbors(fitted.embeddings, 10).codes, cluster_of(fitted.embeddings))
    # Measured 0.902 (full) and 0.885 (sampled, 64 negatives — what `auto` picks here: 600 items with ~70
    # partners each cost about as much either way); the sparse ranking by T itself scores 0.61 and a random
    # embedding 1/30. (ppmi_svd reaches 0.99 on this Zipf-popular planted data; on real data
    # cooc_softmax leads.)
    assert min(precision.values()) >= 0.85 and auto >= 0.85, (precision, auto)


def test_contract_shape_norm_losses(planted, fitted):
    emb = fitted.embeddings
    assert emb.vectors.dtype == np.float32 and emb.vectors.shape == (len(emb.vocab), 32)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-4)
    losses = fitted.report["epoch_losses"]
    assert len(losses) == fitted.report["epochs_run"] <= 20 and losses[-1] < losses[0]  # early stopping may end it
    assert fitted.report["bit_reproducible"] is True


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_same_seed_same_vectors_other_seed_differs(planted, softmax):
    small = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 1500)
    a = fit(small, seed=4, softmax=softmax, epochs=3, negatives=128).embeddings
    b = fit(small, seed=4, softmax=softmax, epochs=3, negatives=128).embeddings
    c = fit(small, seed=5, softmax=softmax, epochs=3, negatives=128).embeddings
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


def test_hub_does_not_dominate_neighbor_lists():
    """A hub in 70 % of all sessions: it tops every row of the raw counts (γ = 0), yet stays out of the
    neighbor lists of the fitted vectors, whose lists hold cluster-mates."""
    rng = np.random.default_rng(0)
    sessions, cluster_of = [], {}
    for _ in range(3000):
        cluster = int(rng.integers(0, 10))
        items = [f"c{cluster}_{i}" for i in rng.choice(12, size=3, replace=False)]
        cluster_of.update({x: cluster for x in items})
        if rng.random() < 0.7:
            pos = int(rng.integers(0, 4))
            items = items[:pos] + ["HUB"] + items[pos:]
        sessions.append(items)
    s = sessions_from_lists(sessions)
    hub = s.vocab.code("HUB")
    others = np.flatnonzero(np.arange(s.n_items) != hub)

    raw = top_k_by_target(target_similarity(s, gamma=0.0).matrix, others, 5)
    assert (raw == hub).any(axis=1).all()  # the data is one where popularity wins a count ranking
    damped = top_k_by_target(target_similarity(s, gamma=0.5).matrix, others, 5)
    assert not (damped == hub).any()

    emb = fit(s, dim=16).embeddings
    nb = top_k_neighbors(emb, 5)
    rows = emb.vocab.codes(s.vocab.take(others))
    assert (nb.codes[rows] == emb.vocab.code("HUB")).any(axis=1).mean() < 0.05  # measured 0.0
    labels = np.array([cluster_of.get(x, -1) for x in emb.vocab.ids.tolist()])
    same = labels[nb.codes[rows]] == labels[rows][:, None]
    assert same.mean() > 0.9


def test_items_without_cooccurrence_are_listed_not_embedded():
    s = sessions_from_lists([["a", "b"], ["a", "c"], ["b", "c"], ["lonely"]])
    res = fit(s, dim=4, epochs=2)
    assert "lonely" not in res.embeddings.vocab
    assert res.report["items_without_vector"] == 1
    assert res.report["items_without_vector_examples"] == ["lonely"]


def test_progress_has_per_epoch_loss_and_cancel_stops(planted):
    events = []
    fit(planted.sessions, progress=events.append, epochs=3)
    epochs = [e for e in events if e.stage == "epoch" and "loss" in e.metrics]
    assert [e.metrics["epoch"] for e in epochs] == [1, 2, 3]
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    def cancel(event):
        if event.stage == "epoch" and event.metrics.get("epoch") == 1:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        fit(planted.sessions, progress=cancel, epochs=5)


@pytest.mark.parametrize(
    "values, needle",
    [({"gamma": -0.1}, "gamma=-0.1"), ({"tau": 0}, "tau=0"), ({"weighting": "cubic"}, "weighting='cubic'"),
     ({"softmax": "approx"}, "softmax='approx'"), ({"negatives": 3}, "negatives=3"), ({"window": 0}, "window=0")],
)
def test_invalid_config_is_named(values, needle):
    with pytest.raises(ConfigError) as err:
        parse_config("cooc_softmax", values)
    assert needle in str(err.value)


def test_auto_softmax_follows_the_cost_of_each_estimator():
    cfg = CoocSoftmaxConfig()
    # Dense targets (baskets; Online Retail: 3,883 items, ~650 partners each) keep the exact softmax ...
    assert use_full_softmax(cfg, 1000, 1000 * 200) and use_full_softmax(cfg, 3883, 2_514_090)
    # ... a sparse one (short click sessions: 5,992 items, ~6 partners each) costs n² with it but
    # n · (375 + 6 · 6) with the sampled one, which it takes; so does MovieLens-small (7,979 items, ~120 each).
    assert not use_full_softmax(cfg, 5992, 34_764) and not use_full_softmax(cfg, 7979, 969_724)
    assert not use_full_softmax(cfg, 20_000, 20_000 * 19_000)  # above FULL_SOFTMAX_MAX_ITEMS: never
    assert not use_full_softmax(CoocSoftmaxConfig(softmax="sampled"), 10, 90)
    assert use_full_softmax(CoocSoftmaxConfig(softmax="full"), 10_000_000, 10)


def test_small_catalogues_take_more_steps_and_fewer_negatives_per_epoch():
    assert effective_batch_size(1024, 6000) == 375  # 16 steps an epoch, not 6
    assert effective_batch_size(1024, 1_000_000) == 1024
    assert effective_negatives(2048, 6000) == 375  # at most a sixteenth of the catalogue ...
    assert effective_negatives(2048, 500) == 64  # ... never fewer than 64 ...
    assert effective_negatives(32, 500) == 32  # ... unless asked for fewer
    assert effective_negatives(2048, 32_768) == effective_negatives(2048, 1_000_000) == 2048  # large: unchanged
    assert fit_threads(1024, 6000) == 1
    assert fit_threads(1024, 100_000) == numba.get_num_threads()


def _sparse_clicks(n_items=3000, n_sessions=900, seed=0):
    """Short click sessions over a long tail: most items seen once or twice, each pairs with a few others."""
    from behemb_core.synthetic import planted_sessions

    return planted_sessions(n_items=n_items, n_clusters=n_items // 50, n_sessions=n_sessions, mean_length=4.5,
                            zipf_exponent=0.7, seed=seed)


def test_sparse_small_data_fits_sampled_with_few_negatives_on_one_thread():
    """The cost of a small sparse fit follows its pairs: the sampled softmax (not n² per epoch), 16 steps an
    epoch, a sixteenth of the catalogue as shared negatives, one thread; and it still finds the clusters."""
    data = _sparse_clicks()
    res = fit(data.sessions, dim=32)
    n = len(res.embeddings.vocab)
    rep = res.report
    assert rep["estimator"] == "sampled" and rep["target_nnz"] < 10 * n
    assert rep["negatives"] == max(64, -(-n // 16)) and rep["batch_size"] == -(-n // 16) and rep["threads"] == 1
    cluster_of = data.cluster_of[data.sessions.vocab.codes(res.embeddings.vocab.ids)]
    precision = cluster_precision_at_k(top_k_neighbors(res.embeddings, 10).codes, cluster_of)
    assert precision > 0.4, precision  # measured 0.479 (seeds 0 and 1); a random embedding scores 1/60


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_thread_count_does_not_change_the_vectors(planted, monkeypatch, softmax):
    """Small fits run on one thread, large ones on numba's count: a seed gives the same bits either way."""
    small = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 1500)
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(softmax_fit, "fit_threads", lambda batch_size, n, _t=threads: _t)
        res = fit(small, seed=4, softmax=softmax, epochs=2, negatives=128)
        assert res.report["threads"] == threads
        runs.append(res.embeddings.vectors)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_small_fit_leaves_the_thread_settings_as_it_found_them(planted):
    from threadpoolctl import threadpool_info

    before = (numba.get_num_threads(), [p["num_threads"] for p in threadpool_info()])
    small = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 500)
    assert fit(small, epochs=1).report["threads"] == 1
    assert (numba.get_num_threads(), [p["num_threads"] for p in threadpool_info()]) == before


def test_fit_rejects_empty_rows():
    with pytest.raises(ValueError, match="positive entry"):
        fit_cosine_softmax(sp.csr_matrix((3, 3), dtype=np.float32), SoftmaxFitParams(dim=2), full=True)


class TestCoocSoftmaxContract(MethodContract):
    method = "cooc_softmax"
    config = {"dim": 8, "epochs": 2}  # deterministic for a seed on one machine, as the README says
