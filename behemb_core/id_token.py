"""The command line's signed-in identity: an OpenID Connect ID token in the environment, as CI systems provide.

GitLab CI (``id_tokens:``), GitHub Actions (after requesting one), Kubernetes projected service-account tokens
and ``gcloud auth print-identity-token`` all hand a job a signed JWT. The command line reads it from

* ``BEHEMB_ID_TOKEN`` (the token itself), or
* ``BEHEMB_ID_TOKEN_FILE`` (a file holding it),

and accepts it only from an issuer the store's policy trusts (``token_issuers``: issuer, audience and where its
signing keys are). Claims read: ``iss`` (must equal the trusted issuer), ``aud`` (must contain its audience),
``exp`` and ``nbf`` (checked with 60 s of leeway), ``sub`` (required), ``email`` (the identity when present),
``name``, and the policy's groups claim (``groups`` by default). Signatures: RS256, RS384, RS512, ES256, ES384,
PS256 (never ``none`` or HMAC, whose key the issuer would have to share). A token that fails any check is an
error that says which — never a silent fall-back to the unverified operating-system user.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .identity import Actor

TOKEN_ENV = "BEHEMB_ID_TOKEN"
TOKEN_FILE_ENV = "BEHEMB_ID_TOKEN_FILE"
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
LEEWAY_SECONDS = 60


def token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The ID token the environment provides, or None."""
    env = os.environ if env is None else env
    path = env.get(TOKEN_FILE_ENV)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{TOKEN_FILE_ENV}={path}: the ID token file cannot be read ({exc})") from None
    value = env.get(TOKEN_ENV, "").strip()
    return value or None


def actor_from_token(token: str, issuers: list[Any], *, groups_claim: str = "groups",
                     label: str | None = None, now: float | None = None) -> Actor:
    """The verified actor ``token`` names, checked against ``issuers`` (the policy's ``token_issuers``)."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    if not issuers:
        raise ConfigError(f"an ID token was given ({TOKEN_ENV}) but this store's policy trusts no token issuer "
                          "(policy token_issuers); without a policy the command line records the OS user")
    try:
        unverified = json.loads(_b64(token.split(".")[1]))
    except (IndexError, ValueError) as exc:
        raise ConfigError(f"{TOKEN_ENV} is not a JWT ({exc})") from None
    iss = unverified.get("iss") if isinstance(unverified, dict) else None
    trusted = next((i for i in issuers if i.issuer == iss), None)
    if trusted is None:
        raise ConfigError(f"the ID token's issuer {iss!r} is not one this store trusts "
                          f"({', '.join(i.issuer for i in issuers)})")
    keys = KeySet.import_key_set(_jwks(trusted.jwks_uri))  # type: ignore[arg-type]  # a TypedDict of plain JSON
    try:
        decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise ConfigError(f"the ID token's signature does not verify with {trusted.issuer}'s keys ({exc})") from None
    claims = dict(decoded.claims)
    _check_claims(claims, trusted, time.time() if now is None else now)
    return Actor.from_claims(claims, via="id token", groups_claim=groups_claim, label=label)


def _check_claims(claims: dict[str, Any], trusted: Any, now: float) -> None:
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
    if trusted.audience not in auds:
        raise ConfigError(f"the ID token is for audience {aud!r}, not {trusted.audience!r}")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)):
        raise ConfigError("the ID token has no expiry ('exp')")
    if now > exp + LEEWAY_SECONDS:
        raise ConfigError(f"the ID token expired {int(now - exp)} s ago; get a fresh one")
    if isinstance(nbf, (int, float)) and now < nbf - LEEWAY_SECONDS:
        raise ConfigError("the ID token is not valid yet ('nbf' is in the future)")


def _jwks(uri: str) -> dict[str, Any]:
    """The issuer's key set from ``uri``: https:// (or http:// on loopback), or file: for a local copy."""
    try:
        if uri.startswith("file:"):
            text = Path(uri[len("file://"):] if uri.startswith("file://") else uri[len("file:"):]).read_text()
        elif uri.startswith("https://") or uri.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            with urllib.request.urlopen(uri, timeout=10) as resp:  # scheme checked above
                text = resp.read().decode("utf-8")
        else:
            raise ConfigError(f"token issuer keys at {uri!r}: use https://, or file: for a local copy")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the token issuer's keys at {uri} cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ConfigError(f"{uri} is not a JSON Web Key Set (no 'keys' list)")
    return data


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
