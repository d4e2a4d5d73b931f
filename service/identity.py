"""Who is asking: every request to the API (and the OpenAI-compatible endpoint) resolves to a :class:`Principal` —
a user and their groups — which the knowledge bases' access rules are checked against.

- **API keys** live in a server-side JSON file (``server.users``), *hashed*: ``python -m rag users add NAME --groups
  a,b`` prints the key once (``phr_…``, 256 random bits) and keeps only its SHA-256, so the file leaks no key.
  A revoked key gets 401.
- **JWT bearer tokens** (``server.jwt``), for teams with an identity provider: verified with PyJWT against a
  configured public key (PEM) or a JWKS file — signature, expiry, issuer and audience — with the groups read from a
  configured claim.
- ``RAG_API_TOKEN`` (``server.token_env``) stays an admin shortcut: its holder is the principal ``admin``, who may
  read and write every knowledge base.

With neither users nor JWT configured and no token set, the API stays open on loopback as before (a single-user
box): every request is the local admin.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError

KEY_PREFIX = "phr_"


class Unauthorized(RagError):
    """No credentials, or credentials that do not verify (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    name: str
    groups: frozenset[str] = field(default_factory=frozenset)
    admin: bool = False
    via: str = "key"  # key | jwt | token | local

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "groups": sorted(self.groups), "admin": self.admin, "via": self.via}


LOCAL_ADMIN = Principal("local", admin=True, via="local")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyFile:
    """The users and their hashed API keys: ``{"users": {name: {groups, key_sha256, created, revoked}}}``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"users": {}}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"the users file {self.path} cannot be read ({exc}); fix or remove it") from None

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)

    def add(self, name: str, groups: list[str]) -> str:
        """Create (or re-key) `name` with `groups`; returns the new key, which is not stored."""
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"user name {name!r}: letters, digits, '-', '_' and '.' only")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            data = self._read()
            data["users"][name] = {
                "groups": sorted({g.strip() for g in groups if g.strip()}),
                "key_sha256": _digest(key),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "revoked": False,
            }
            self._write(data)
        return key

    def revoke(self, name: str) -> None:
        with self._lock:
            data = self._read()
            if name not in data["users"]:
                raise ConfigError(f"no user {name!r}; `python -m rag users list` shows them")
            data["users"][name]["revoked"] = True
            self._write(data)

    def users(self) -> dict[str, dict[str, Any]]:
        users = self._read()["users"].items()
        return {name: {k: v for k, v in user.items() if k != "key_sha256"} for name, user in users}

    def verify(self, key: str) -> Principal | None:
        """The principal holding `key`, or None (unknown or revoked)."""
        digest = _digest(key)
        for name, user in self._read()["users"].items():
            if secrets.compare_digest(user.get("key_sha256", ""), digest):
                return None if user.get("revoked") else Principal(name, frozenset(user.get("groups", [])))
        return None


class JwtVerifier:
    """Bearer JWTs from an identity provider: signature (a PEM public key or a JWKS file), expiry, issuer,
    audience; the principal is the ``sub`` claim with the groups of ``groups_claim``."""

    def __init__(self, cfg: Any):
        import jwt

        self._jwt = jwt
        self.cfg = cfg
        if cfg.jwks:
            self._keys = {
                key.key_id: key for key in jwt.PyJWKSet.from_json(Path(cfg.jwks).read_text(encoding="utf-8")).keys
            }
            self._key = None
        elif cfg.public_key:
            self._keys, self._key = {}, Path(cfg.public_key).read_text(encoding="utf-8")
        else:
            raise ConfigError("server.jwt needs public_key (a PEM file) or jwks (a JWKS JSON file)")

    def verify(self, token: str) -> Principal:
        jwt = self._jwt
        try:
            key: Any = self._key
            if self._keys:
                kid = jwt.get_unverified_header(token).get("kid")
                if kid not in self._keys:
                    raise Unauthorized("the token's signing key is not in the configured JWKS")
                key = self._keys[kid].key
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.cfg.algorithms),
                audience=self.cfg.audience,
                issuer=self.cfg.issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the token does not verify ({exc.__class__.__name__})") from None
        groups = claims.get(self.cfg.groups_claim) or []
        groups = [groups] if isinstance(groups, str) else groups
        return Principal(str(claims["sub"]), frozenset(str(g) for g in groups), via="jwt")


class Identity:
    """Resolves an ``Authorization`` header to a principal (the order: admin token, API key, JWT)."""

    def __init__(self, server_cfg: Any, token: str | None = None):
        self.token = token
        self.keys = KeyFile(server_cfg.users) if server_cfg.users else None
        self.jwt = JwtVerifier(server_cfg.jwt) if server_cfg.jwt is not None else None

    @property
    def open(self) -> bool:
        """No credentials configured at all: a local single-user box."""
        return not (self.token or self.keys or self.jwt)

    def principal(self, authorization: str | None) -> Principal:
        if self.open:
            return LOCAL_ADMIN
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("missing bearer credentials: send `Authorization: Bearer <key or token>`")
        credential = credential.strip()
        if self.token and secrets.compare_digest(credential.encode(), self.token.encode()):
            return Principal("admin", admin=True, via="token")
        if self.keys and credential.startswith(KEY_PREFIX):
            found = self.keys.verify(credential)
            if found is None:
                raise Unauthorized("unknown or revoked API key")
            return found
        if self.jwt and credential.count(".") == 2:
            return self.jwt.verify(credential)
        raise Unauthorized("missing or wrong bearer credentials")
