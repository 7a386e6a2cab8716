"""Vocabulary.union / Vocabulary.align: one rule for lining up two id sets — ids match by their text."""

from __future__ import annotations

import numpy as np
import pytest

from behemb_core.vocab import Vocabulary, normalize_ids


def vocab(*ids: object) -> Vocabulary:
    return Vocabulary(normalize_ids(np.array(ids, dtype=object)))


def test_union_of_two_int_vocabularies_stays_int_and_sorted() -> None:
    a, b = vocab(5, 1, 3), vocab(3, 4, 10)
    u = a.union(b)
    assert u.kind == "int" and u.ids.tolist() == [1, 3, 4, 5, 10]
    al = a.align(b)
    assert al.universe == u
    np.testing.assert_array_equal(al.left_codes, [0, 1, 3])  # 1, 3, 5
    np.testing.assert_array_equal(al.right_codes, [1, 2, 4])  # 3, 4, 10
    left, right = al.shared()
    assert a.ids[left].tolist() == b.ids[right].tolist() == [3]
    assert a.ids[al.only_left()].tolist() == [1, 5]
    assert b.ids[al.only_right()].tolist() == [4, 10]
    np.testing.assert_array_equal(al.right_of_left(), [-1, 0, -1])


def test_union_of_two_str_vocabularies_stays_str() -> None:
    a, b = vocab("85123A", "B", "x"), vocab("B", "C")
    u = a.union(b)
    assert u.kind == "str" and u.ids.tolist() == ["85123A", "B", "C", "x"]
    left, right = a.align(b).shared()
    assert a.ids[left].tolist() == b.ids[right].tolist() == ["B"]
    assert a.ids[a.align(b).only_left()].tolist() == ["85123A", "x"]
    assert b.ids[a.align(b).only_right()].tolist() == ["C"]


@pytest.mark.parametrize("flip", [False, True])
def test_mixed_int_and_str_ids_match_by_their_text(flip: bool) -> None:
    ints, strs = vocab(1, 2, 12), vocab("12", "85123A", "2")
    assert ints.kind == "int" and strs.kind == "str"
    left_v, right_v = (strs, ints) if flip else (ints, strs)
    al = left_v.align(right_v)
    assert al.universe.kind == "str"
    assert sorted(al.universe.ids.tolist()) == ["1", "12", "2", "85123A"]  # 12 and "12" are one item
    left, right = al.shared()
    shared = {str(x) for x in left_v.ids[left].tolist()}
    assert shared == {"2", "12"}
    assert [str(x) for x in left_v.ids[left]] == [str(x) for x in right_v.ids[right]]  # pairs line up
    assert len(al.only_left()) + len(left) == len(left_v)
    assert len(al.only_right()) + len(right) == len(right_v)
    # every item lands where its text is in the universe
    for v, codes in ((left_v, al.left_codes), (right_v, al.right_codes)):
        assert [str(x) for x in al.universe.ids[codes]] == [str(x) for x in v.ids]


def test_mixed_union_whose_texts_are_all_integers_is_int() -> None:
    # A str vocabulary made without normalisation may hold canonical integer texts: united by text, they are ints.
    texts = Vocabulary(np.array(["3", "7"], dtype=object))
    assert texts.kind == "str"
    u = vocab(1, 3).union(texts)
    assert u.kind == "int" and u.ids.tolist() == [1, 3, 7]


def test_leading_zeros_are_a_different_text() -> None:
    left, right = vocab(12).align(vocab("012", "a")).shared()
    assert len(left) == len(right) == 0


def test_align_with_an_empty_vocabulary() -> None:
    a = vocab(1, 2)
    empty = Vocabulary(np.zeros(0, dtype=np.int64))
    al = a.align(empty)
    assert al.universe == a and al.shared()[0].size == 0
    assert al.only_left().tolist() == [0, 1] and al.only_right().size == 0
