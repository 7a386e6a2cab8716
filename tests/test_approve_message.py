"""The refusal of an approval, word for word on the command line: "not approved" is said once (the app showed
"Not approved: version 'cs_v1' not approved: …"; its test is in test_app_compare_publish.py)."""

from __future__ import annotations

import numpy as np
import pytest

from behemb_core.cli import main
from behemb_core.embeddings import make_embeddings
from behemb_core.store import Store
from behemb_core.vocab import Vocabulary

NOTHING = "nothing is published yet, so there is no catalogue or neighbor list to compare with"


def test_cli_approve_refusal_is_one_exact_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(tmp_path / "store")
    store.save_version(make_embeddings(Vocabulary(np.arange(50)), np.random.default_rng(0).normal(size=(50, 8))),
                       manifest={"method": "ppmi_svd"}, name="cs_v1")
    code = main(["approve", "--store", str(tmp_path / "store"), "--version", "cs_v1", "--by", "ana", "--quiet",
                 "--acknowledge", "golden pairs", "--acknowledge", "quality vs item-kNN",
                 "--acknowledge", "served neighbors match"])  # no ANN index: could not judge, acknowledged
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == (
        "error: version 'cs_v1' not approved: "
        f"“same catalogue as published” is a warning (could not judge: {NOTHING}); acknowledge it by name to approve; "
        f"“stability vs published” is a warning (could not judge: {NOTHING}); acknowledge it by name to approve "
        "(to approve anyway, add --acknowledge \"same catalogue as published\" "
        "--acknowledge \"stability vs published\")")
