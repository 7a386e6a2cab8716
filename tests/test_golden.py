"""Golden pairs: append-only marks with the store, latest wins, and the re-check against a version."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from behemb_core.checks.golden import check_golden
from behemb_core.embeddings import make_embeddings
from behemb_core.errors import BehembError, ConfigError, InputError, IntegrityError, StoreError
from behemb_core.neighbors import item_neighbors
from behemb_core.store import Store, golden_pairs, mark_pair
from behemb_core.vocab import Vocabulary

ANGLES = {1: 0, 2: 10, 3: 25, 4: 45, 5: 90, 6: 180}  # degrees on a circle: neighbors of 1 are 2, 3, 4, 5, 6


def circle_embeddings(ids=ANGLES):
    vocab = Vocabulary(list(ids))
    rad = np.deg2rad([ids[i] for i in vocab.ids.tolist()])
    return make_embeddings(vocab, np.stack([np.cos(rad), np.sin(rad)], axis=1))


def lines(store: Path) -> list[dict]:
    return [json.loads(x) for x in (store / "golden" / "pairs.jsonl").read_text().splitlines()]


def test_mark_pair_appends_a_record_with_everything(tmp_path: Path) -> None:
    rec = mark_pair(tmp_path, "85123A", "21733", label="good", by="Ana", note="classic pair")
    assert rec["query_id"] == "85123A" and rec["neighbor_id"] == "21733"
    assert rec["label"] == "good" and rec["by"] == "Ana" and rec["note"] == "classic pair"
    assert rec["version_seen"] is None and rec["at"].endswith("+00:00")
    assert lines(tmp_path) == [rec]
    assert not (tmp_path / "versions").exists()  # nothing written beside golden/ (and the lock)


def test_latest_mark_wins_and_nothing_is_deleted(tmp_path: Path) -> None:
    mark_pair(tmp_path, 1, 2, label="good", by="Ana")
    mark_pair(tmp_path, 1, 3, label="bad", by="Ana")
    mark_pair(tmp_path, 1, 2, label="bad", by="Ben", note="changed my mind")
    pairs = golden_pairs(tmp_path)
    assert pairs[["query_id", "neighbor_id", "label", "by", "marks"]].values.tolist() == [
        [1, 2, "bad", "Ben", 2], [1, 3, "bad", "Ana", 1]]
    assert pairs.loc[0, "note"] == "changed my mind"
    assert len(lines(tmp_path)) == 3  # append-only: the first mark is still there
    # "2" and 2 are the same item, so the same pair
    mark_pair(tmp_path, 1, "2", label="good", by="Cy")
    pairs = golden_pairs(tmp_path)
    assert len(pairs) == 2 and pairs.loc[0, "label"] == "good" and pairs.loc[0, "marks"] == 3


def test_ids_keep_their_type(tmp_path: Path) -> None:
    mark_pair(tmp_path, np.int64(12), 45, label="good", by="Ana")
    ints = golden_pairs(tmp_path)
    assert ints["query_id"].dtype == np.int64 and ints["neighbor_id"].dtype == np.int64
    assert lines(tmp_path)[0]["query_id"] == 12  # a JSON number, not "12"

    other = tmp_path / "codes"
    mark_pair(other, "85123A", 22423, label="bad", by="Ana")
    mark_pair(other, "00123", "85123A", label="good", by="Ana")  # a code with a leading zero stays a string
    mixed = golden_pairs(other)
    assert mixed["query_id"].tolist() == ["85123A", "00123"]
    assert mixed["neighbor_id"].tolist() == [22423, "85123A"]
    assert type(mixed["neighbor_id"][0]) is int


def test_version_seen_must_exist(tmp_path: Path) -> None:
    emb = circle_embeddings()
    Store(tmp_path).save_version(emb, manifest={"method": "hand"}, name="v1")
    assert mark_pair(tmp_path, 1, 2, label="good", by="Ana", version="v1")["version_seen"] == "v1"
    with pytest.raises(StoreError, match="'v2' not found"):
        mark_pair(tmp_path, 1, 2, label="good", by="Ana", version="v2")
    with pytest.raises(StoreError):
        mark_pair(tmp_path, 1, 2, label="good", by="Ana", version="../x")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label": "great", "by": "Ana"}, "label must be one of \\['good', 'bad'\\], got 'great'"),
    ({"label": "Good", "by": "Ana"}, "got 'Good'"),
    ({"label": "good", "by": ""}, "'by' must name who acts"),
    ({"label": "good", "by": "   "}, "'by' must name who acts"),
    ({"label": "good", "by": "Ana\nBen"}, "control characters"),
    ({"label": "good", "by": None}, "'by' must be a string"),
    ({"label": "good", "by": "Ana", "note": 5}, "note must be a string"),
])
def test_invalid_marks_are_refused_and_nothing_written(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        mark_pair(tmp_path, 1, 2, **kwargs)
    assert isinstance(info.value, BehembError)
    assert not (tmp_path / "golden" / "pairs.jsonl").exists()


@pytest.mark.parametrize(("q", "n", "message"), [
    (1, 1, "two different items"), ("7", 7, "two different items"), ("", 2, "query_id must name an item"),
    (True, 2, "boolean"), (1.5, 2, "float"), (1, None, "neighbor_id must be an integer or a string"),
    ("a\nb", 2, "control characters"),
])
def test_invalid_ids_are_refused(tmp_path: Path, q: object, n: object, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        mark_pair(tmp_path, q, n, label="good", by="Ana")  # type: ignore[arg-type]


def test_a_corrupt_line_is_an_integrity_error_naming_the_line(tmp_path: Path) -> None:
    mark_pair(tmp_path, 1, 2, label="good", by="Ana")
    with open(tmp_path / "golden" / "pairs.jsonl", "a") as fh:
        fh.write('{"query_id": 1, "neighbor_id": 3, "label": "meh", "by": "x", "at": "t"}\n')
    with pytest.raises(IntegrityError, match="line 2: label 'meh'"):
        golden_pairs(tmp_path)


def test_empty_store_has_no_pairs_and_the_check_passes(tmp_path: Path) -> None:
    pairs = golden_pairs(tmp_path)
    assert pairs.empty and {"query_id", "neighbor_id", "label", "marks"} <= set(pairs.columns)
    res = check_golden(circle_embeddings(), pairs)
    assert res["passed"] and res["pairs"] == 0 and res["share_ok"] is None and res["could_not_judge"] is None


def test_check_golden_exact_ranks_on_a_hand_made_embedding(tmp_path: Path) -> None:
    emb = circle_embeddings()
    assert [r["item_id"] for r in item_neighbors(emb, 1, 5)] == [2, 3, 4, 5, 6]  # the known answer
    for q, n, label in [(1, 2, "good"), (1, 4, "good"), (1, 3, "bad"), (1, 6, "bad"), (6, 5, "good"),
                        (1, 99, "good"), (77, 2, "bad")]:
        mark_pair(tmp_path, q, n, label=label, by="Ana")
    res = check_golden(emb, golden_pairs(tmp_path), k=2)
    t = res["table"]
    assert t["status"].tolist() == ["kept", "lost", "present", "gone", "kept", "missing", "missing"]
    assert t["rank"].tolist() == [1, pd.NA, 2, pd.NA, 1, pd.NA, pd.NA]
    assert t["overall_rank"].tolist() == [1, 3, 2, 5, 1, pd.NA, pd.NA]
    assert t["ok"].tolist() == [True, False, False, True, True, None, None]
    assert t.loc[0, "similarity"] == pytest.approx(np.cos(np.deg2rad(10)), abs=1e-6)
    assert t.loc[5, "detail"] == "neighbor not in this version" and t.loc[6, "detail"] == "query not in this version"
    assert t.loc[1, "detail"] == "rank 3 (outside the top 2)"
    assert {k: res[k] for k in ("k", "pairs", "checked", "good_kept", "good_lost", "bad_present", "bad_gone",
                                "missing", "passed")} == {
        "k": 2, "pairs": 7, "checked": 5, "good_kept": 2, "good_lost": 1, "bad_present": 1, "bad_gone": 1,
        "missing": 2, "passed": False}
    assert res["share_ok"] == pytest.approx(3 / 5)
    # A larger k keeps the lost good pair, and brings the gone bad pair back.
    res5 = check_golden(emb, golden_pairs(tmp_path), k=5)
    assert res5["good_lost"] == 0 and res5["bad_present"] == 2
    # Only good pairs in the top 2 and only bad pairs outside it: passed.
    only = golden_pairs(tmp_path).iloc[[0, 3, 4, 5]]
    res_ok = check_golden(emb, only, k=2)
    assert res_ok["passed"] and res_ok["share_ok"] == 1.0 and res_ok["missing"] == 1
    assert res_ok["could_not_judge"] is None and res["could_not_judge"] is None
    # No pair has both items in the version: nothing was judged, and the result says so.
    none = check_golden(emb, golden_pairs(tmp_path).iloc[[5, 6]], k=2)
    assert none["checked"] == 0 and none["share_ok"] is None
    assert none["could_not_judge"] == ("none of the 2 golden pairs has both items in this version, so no pair "
                                       "could be judged")


def test_check_golden_ties_follow_the_neighbor_search(tmp_path: Path) -> None:
    # 2 and 3 are equally close to 1: the lower code comes first, as in top_k_neighbors.
    emb = circle_embeddings({1: 0, 2: 30, 3: -30, 4: 90})
    assert [r["item_id"] for r in item_neighbors(emb, 1, 3)] == [2, 3, 4]
    pairs = pd.DataFrame({"query_id": [1, 1], "neighbor_id": [3, 2], "label": ["good", "good"]})
    assert check_golden(emb, pairs, k=1)["table"]["overall_rank"].tolist() == [2, 1]


def test_check_golden_matches_string_and_integer_ids() -> None:
    vocab_ids = {"85123A": 0, "21733": 5, "22423": 60}
    emb = circle_embeddings(vocab_ids)
    assert emb.vocab.kind == "str"
    pairs = pd.DataFrame({"query_id": ["85123A", "85123A"], "neighbor_id": [21733, "22423"],
                          "label": ["good", "bad"]})
    res = check_golden(emb, pairs, k=1)
    assert res["table"]["status"].tolist() == ["kept", "gone"] and res["passed"]
    # an integer vocabulary finds "2" typed as text
    res = check_golden(circle_embeddings(), pd.DataFrame({"query_id": ["1"], "neighbor_id": ["2"],
                                                          "label": ["good"]}), k=1)
    assert res["table"]["status"].tolist() == ["kept"]


def test_check_golden_refuses_bad_arguments() -> None:
    emb = circle_embeddings()
    pairs = pd.DataFrame({"query_id": [1], "neighbor_id": [2], "label": ["good"]})
    with pytest.raises(ConfigError, match="k must be a positive integer, got 0"):
        check_golden(emb, pairs, k=0)
    with pytest.raises(InputError, match="lack the columns \\['label'\\]"):
        check_golden(emb, pairs.drop(columns="label"))
    with pytest.raises(InputError, match="labels \\['fine'\\]"):
        check_golden(emb, pairs.assign(label="fine"))


def _mark_many(args: tuple[str, int]) -> None:
    store, worker = args
    for i in range(20):
        mark_pair(store, worker, 1000 + i, label="good" if i % 2 else "bad", by=f"worker {worker}")


def test_concurrent_marks_from_processes_are_all_kept_whole(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        pool.map(_mark_many, [(str(tmp_path), w) for w in range(3)])
    recs = lines(tmp_path)  # every line parses: no interleaving
    assert len(recs) == 60
    assert len(golden_pairs(tmp_path)) == 60
