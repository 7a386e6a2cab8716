"""The sequential-rules baseline: weights 1/distance within the window, the order respected, ties to the lower code,
against hand-computed answers and a pure-Python oracle."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest

from behemb_core.errors import ConfigError
from behemb_core.evaluation import (
    Pairs,
    evaluate_sequential_rules,
    item_knn_neighbors,
    next_item_pairs,
    ranks_for_sequential_rules,
    sequential_rule_scores,
    sequential_rules_neighbors,
    time_split,
)
from behemb_core.synthetic import sessions_from_lists


def _dense_by_id(sessions, scores) -> dict[tuple[int, int], float]:
    coo = scores.tocoo()
    ids = sessions.vocab.ids
    return {(int(ids[a]), int(ids[b])): float(w) for a, b, w in zip(coo.row, coo.col, coo.data, strict=True)}


def test_weights_by_hand():
    # Session 1: 1 2 3 1 — d=1: 1→2, 2→3, 3→1 (1 each); d=2: 1→3, 2→1 (1/2 each); d=3 (1→1) is beyond window 2
    # and a self pair anyway. Session 2: 2 3 — 2→3 (1). The border between the sessions (1 then 2) is no pair.
    s = sessions_from_lists([[1, 2, 3, 1], [2, 3]])
    got = _dense_by_id(s, sequential_rule_scores(s, window=2))
    assert got == pytest.approx({(1, 2): 1.0, (2, 3): 2.0, (3, 1): 1.0, (1, 3): 0.5, (2, 1): 0.5})
    # Window 1: only neighbours; window 3 adds nothing (the only distance-3 pair is 1→1, a self pair).
    assert _dense_by_id(s, sequential_rule_scores(s, window=1)) == pytest.approx({(1, 2): 1, (2, 3): 2, (3, 1): 1})
    assert _dense_by_id(s, sequential_rule_scores(s, window=3)) == pytest.approx(got)
    assert _dense_by_id(s, sequential_rule_scores(s, window=40)) == pytest.approx(got)  # beyond EXACT_WINDOW
    # A repeated item still counts its positions: 5 6 5 → 5→6 (1), 6→5 (1), and 5→5 at distance 2 is skipped.
    r = sessions_from_lists([[5, 6, 5]])
    assert _dense_by_id(r, sequential_rule_scores(r, window=5)) == pytest.approx({(5, 6): 1.0, (6, 5): 1.0})


def test_ties_go_to_the_lower_code_and_rows_are_padded():
    s = sessions_from_lists([[1, 3], [1, 2], [4]])
    codes = s.vocab.codes(np.array([1, 2, 3, 4]))
    lists = sequential_rules_neighbors(s, codes, 3, window=10)
    two, three = codes[1], codes[2]
    assert lists[0].tolist() == [min(two, three), max(two, three), -1]  # 1→2 and 1→3 both weigh 1
    assert (lists[1:] == -1).all()  # 2, 3 and 4 are followed by nothing


def test_window_must_be_a_positive_whole_number():
    s = sessions_from_lists([[1, 2]])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="window"):
            sequential_rule_scores(s, window=bad)


def _planted_direction(seed: int = 0):
    """Sessions of random filler items where item 1000 is always followed right away by 2000, and 2000 is never
    followed by 1000 (each appears once per session, 1000 before 2000)."""
    rng = np.random.default_rng(seed)
    lists = []
    for _ in range(300):
        filler = rng.integers(0, 60, size=rng.integers(3, 12)).tolist()
        at = int(rng.integers(0, len(filler) + 1))
        lists.append(filler[:at] + [1000, 2000] + filler[at:])
    return sessions_from_lists(lists)


def test_planted_direction_a_then_b_never_b_then_a():
    s = _planted_direction()
    a, b = s.vocab.codes(np.array([1000, 2000]))
    lists = sequential_rules_neighbors(s, np.array([a, b]), s.n_items, window=10)
    assert lists[0, 0] == b  # what comes after 1000: 2000 first
    assert a not in lists[1].tolist()  # 1000 never comes after 2000: not in its list at all
    # The symmetric baseline cannot tell: item-kNN puts each first for the other.
    knn = item_knn_neighbors(s, np.array([a, b]), 1)
    assert knn[:, 0].tolist() == [b, a]


def _oracle_ranks(train, pairs: Pairs, k: int, window: int) -> list[int]:
    """Exact (rational) scores, pair by pair in session order, ties to the lower code."""
    score: dict[int, dict[int, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for sess in train.to_lists():
        for i, x in enumerate(sess):
            for j in range(i + 1, min(len(sess), i + window + 1)):
                if sess[j] != x:
                    score[x][sess[j]] += Fraction(1, j - i)
    code = {item: c for c, item in enumerate(train.vocab.ids.tolist())}
    out = []
    for q, t in zip(pairs.queries.tolist(), pairs.targets.tolist(), strict=True):
        row = sorted(score.get(q, {}).items(), key=lambda kv: (-kv[1], code[kv[0]]))[:k]
        ranked = [item for item, _ in row]
        out.append(ranked.index(t) + 1 if t in ranked else 0)
    return out


@pytest.mark.parametrize("window", [1, 3, 10])
def test_ranks_match_a_pure_python_oracle(planted, window):
    train, test = time_split(planted.sessions, holdout=0.2)
    pairs = next_item_pairs(test)
    sub = Pairs(pairs.queries[:400], pairs.targets[:400])
    got = ranks_for_sequential_rules(train, sub, 10, window=window)
    assert got.tolist() == _oracle_ranks(train, sub, 10, window)
    assert (got > 0).any()  # the check compared some hits, not only misses
    m = evaluate_sequential_rules(train, sub, k=10, window=window)
    assert m["hr@10"] == pytest.approx(float((got > 0).mean())) and m["pairs"] == 400


def test_unknown_queries_are_misses_and_results_are_deterministic(planted):
    train, test = time_split(planted.sessions, holdout=0.2)
    pairs = next_item_pairs(test)
    odd = Pairs(np.concatenate([pairs.queries[:50], np.array([-12345])]),
                np.concatenate([pairs.targets[:50], pairs.targets[:1]]))
    first = ranks_for_sequential_rules(train, odd, 10)
    assert first[-1] == 0
    assert np.array_equal(first, ranks_for_sequential_rules(train, odd, 10))
    a, b = sequential_rule_scores(train), sequential_rule_scores(train)
    assert (a != b).nnz == 0
