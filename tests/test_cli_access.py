"""Who acts on the command line: an ID token in the environment (verified against the store policy's trusted
issuer, here a key set kept in a file), else the OS user and host, unverified; ``--by`` only a label. The issue's
own scenario first: three names typed in one shell are one unverified person, not three."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from behemb_core.cli import main
from behemb_core.store import Store, read_audit_log
from behemb_core.synthetic import planted_sessions

ISSUER = "https://ci.example.test"
AUDIENCE = "behemb"
WARN = ["--acknowledge", "quality vs item-kNN", "--acknowledge", "same catalogue as published",
        "--acknowledge", "stability vs published", "--acknowledge", "golden pairs",
        "--acknowledge", "served neighbors match"]  # a fresh draft without an ANN index: could not judge


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    planted = planted_sessions(n_items=200, n_clusters=10, n_sessions=1500, seed=3)
    path = tmp_path_factory.mktemp("cli-access") / "sessions.jsonl"
    with open(path, "w") as fh:
        for sid, items in zip(planted.sessions.session_ids, planted.sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    return path


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> tuple[RSAKey, Path]:
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
    jwks = tmp_path_factory.mktemp("idp") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return key, jwks


def token(key: RSAKey, name: str, *, iss: str = ISSUER, aud: str = AUDIENCE, exp_in: float = 600,
          groups: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "sub": f"sub-{name}", "email": f"{name}@example.com", "iat": now,
              "exp": now + int(exp_in), "groups": list(groups)}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def train(capsys, store: Path, data: Path, version: str) -> tuple[int, str, str]:
    return cli(capsys, "train", "--method", "ppmi_svd", "--input", data, "--store", store, "--version", version,
               "--set", "dim=8", "--quiet")


def test_three_typed_names_in_one_shell_are_one_unverified_person(capsys, tmp_path: Path, data: Path) -> None:
    store = tmp_path / "s"
    assert train(capsys, store, data, "v1")[0] == 0
    code, out, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--by", "alice", "--quiet", *WARN)
    assert code == 0, err
    code, out, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--by", "the CEO", "--quiet", *WARN)
    assert code == 0, err
    assert cli(capsys, "publish", "--store", store, "--version", "v1", "--by", "bob")[0] == 0
    log = read_audit_log(Store(store))
    assert len({e["by"] for e in log}) == 1  # the OS user and host, every time
    assert [e["actor"]["label"] for e in log] == ["alice", "the CEO", "bob"]
    assert all(e["actor"]["verified"] is False and e["actor"]["via"] == "os user" for e in log)
    code, out, _ = cli(capsys, "audit", "--store", store)
    assert code == 0 and "no (os user)" not in out and "False" in out  # the table's verified column


def test_id_tokens_roles_and_four_eyes_on_the_command_line(capsys, tmp_path: Path, data: Path, issuer,
                                                          monkeypatch) -> None:
    key, jwks = issuer
    store = tmp_path / "team"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "members": {"alice@example.com": ["trainer", "approver"], "bob@example.com": ["approver"],
                    "dave@example.com": ["publisher", "admin"]},
        "token_issuers": [{"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": f"file://{jwks}"}]}))
    code, out, err = cli(capsys, "policy", "set", "--store", store, "--file", policy)
    assert code == 0, err

    code, _, err = train(capsys, store, data, "v1")  # the OS user holds no role under a policy
    assert code == 1 and "must sign in" in err and "this store's policy" in err
    monkeypatch.setenv("BEHEMB_ID_TOKEN", token(key, "alice"))
    code, out, err = cli(capsys, "whoami", "--store", store)
    who = json.loads(out)
    assert who["actor"]["id"] == "alice@example.com" and who["actor"]["verified"] and who["roles"] == [
        "approver", "trainer", "viewer"]
    assert train(capsys, store, data, "v1")[0] == 0
    assert Store(store).manifest("v1")["trained_by"]["id"] == "alice@example.com"
    code, _, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", *WARN)
    assert code == 1 and "four eyes" in err and "bob@example.com" in err

    monkeypatch.setenv("BEHEMB_ID_TOKEN", token(key, "bob"))
    code, out, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", "--by", "TICKET-7",
                         *WARN)
    assert code == 0, err
    assert json.loads(out)["actor"]["label"] == "TICKET-7"
    code, _, err = cli(capsys, "publish", "--store", store, "--version", "v1")
    assert code == 1 and "may not publish" in err and "dave@example.com" in err

    monkeypatch.setenv("BEHEMB_ID_TOKEN", token(key, "dave"))
    assert cli(capsys, "publish", "--store", store, "--version", "v1")[0] == 0
    log = read_audit_log(Store(store))
    assert [(e["action"], e["by"], e["actor"]["verified"]) for e in log] == [
        ("policy", log[0]["by"], False), ("approve", "bob@example.com", True), ("publish", "dave@example.com", True)]
    code, out, err = cli(capsys, "verify", "--store", store)
    assert code == 0 and json.loads(out)["verdict"] == "ok", out


@pytest.mark.parametrize(("make", "why"), [
    (lambda key: token(key, "eve", iss="https://evil.example.test"), "is not one this store trusts"),
    (lambda key: token(key, "eve", aud="other"), "not 'behemb'"),
    (lambda key: token(key, "eve", exp_in=-3600), "expired"),
    (lambda key: token(RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"}), "eve"),
     "signature does not verify"),
    (lambda key: "not-a-jwt", "is not a JWT"),
])
def test_a_token_that_fails_a_check_is_an_error_never_a_fall_back(capsys, tmp_path: Path, issuer, monkeypatch,
                                                                   make, why) -> None:
    key, jwks = issuer
    store = tmp_path / "s"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"members": {"dave@example.com": ["admin"]}, "token_issuers": [
        {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": f"file://{jwks}"}]}))
    assert cli(capsys, "policy", "set", "--store", store, "--file", policy)[0] == 0
    monkeypatch.setenv("BEHEMB_ID_TOKEN", make(key))
    code, _, err = cli(capsys, "whoami", "--store", store)
    assert code == 1 and why in err, err


def test_verify_without_the_key_exits_3_and_says_what_it_could_not_check(capsys, tmp_path: Path, data: Path,
                                                                        monkeypatch) -> None:
    store = tmp_path / "s"
    assert train(capsys, store, data, "v1")[0] == 0
    assert cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", *WARN)[0] == 0
    code, out, err = cli(capsys, "verify", "--store", store, "--no-key")
    assert code == 3 and json.loads(out)["verdict"] == "could not judge"
    assert "could not judge" in err and "no audit key" in err
    code, out, _ = cli(capsys, "verify", "--store", store)
    assert code == 0 and json.loads(out)["ok"]


def test_audit_key_new_and_id(capsys, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "audit.key"
    code, out, _ = cli(capsys, "audit-key", "new", "--out", path)
    assert code == 0 and (path.stat().st_mode & 0o777) == 0o600
    key_id = json.loads(out)["key_id"]
    code, _, err = cli(capsys, "audit-key", "new", "--out", path)
    assert code == 1 and "never replaced" in err
    monkeypatch.setenv("BEHEMB_AUDIT_KEY_FILE", str(path))
    code, out, _ = cli(capsys, "audit-key", "id")
    assert code == 0 and json.loads(out)["key_id"] == key_id
