"""API keys, the admin token and knowledge-base rules (service/identity.py, service/knowledge_bases.py)."""

from __future__ import annotations

import pytest

from rag.config import ServerConfig
from rag.errors import ConfigError
from service.identity import Identity, KeyFile, Principal, Unauthorized
from service.knowledge_bases import Forbidden, KnowledgeBases, UnknownKnowledgeBase


def test_keys_are_shown_once_and_stored_only_as_hashes(tmp_path):
    keys = KeyFile(tmp_path / "users.json")
    key = keys.add("alice", ["hr", " hr ", "payroll"])
    assert key.startswith("phr_") and len(key) > 40
    assert key not in (tmp_path / "users.json").read_text()
    assert keys.verify(key) == Principal("alice", frozenset({"hr", "payroll"}))
    assert keys.verify(key + "x") is None
    assert (tmp_path / "users.json").stat().st_mode & 0o077 == 0  # readable by its owner only
    keys.revoke("alice")
    assert keys.verify(key) is None and keys.users()["alice"]["revoked"] is True
    with pytest.raises(ConfigError, match="no user 'bob'"):
        keys.revoke("bob")
    with pytest.raises(ConfigError, match="letters, digits"):
        keys.add("../etc", [])


def test_the_identity_resolves_token_key_or_nothing(tmp_path):
    assert Identity(ServerConfig()).principal(None).admin  # nothing configured: the local single-user box
    server = ServerConfig(users=str(tmp_path / "users.json"))
    key = KeyFile(server.users).add("bob", ["eng"])
    identity = Identity(server, token="admin-secret")
    assert identity.principal("Bearer admin-secret").admin
    assert identity.principal(f"Bearer {key}").name == "bob"
    for header in (None, "", "Basic abc", "Bearer", "Bearer phr_unknown", "Bearer admin-secreT"):
        with pytest.raises(Unauthorized):
            identity.principal(header)


def test_knowledge_base_rules(tmp_path):
    kbs = KnowledgeBases(tmp_path / "kbs.json")
    kbs.create("hr", read=["hr", "auditors"], write=["hr"])
    alice, auditor, bob = (Principal(n, frozenset(g)) for n, g in (("a", {"hr"}), ("x", {"auditors"}), ("b", {"eng"})))
    assert kbs.may_read(alice, "hr") and kbs.may_write(alice, "hr")
    assert kbs.may_read(auditor, "hr") and not kbs.may_write(auditor, "hr")
    assert not kbs.may_read(bob, "hr") and kbs.readable(bob) == ["default"]
    with pytest.raises(Forbidden, match="b may not read the knowledge base 'hr'"):
        kbs.check(bob, "hr")
    with pytest.raises(UnknownKnowledgeBase):
        kbs.check(alice, "nope")
    with pytest.raises(ConfigError, match="exists"):
        kbs.create("hr", read=[], write=[])
    with pytest.raises(ConfigError, match="lower-case"):
        kbs.create("HR/../x", read=[], write=[])
    assert not kbs.may_write(alice, "default") and kbs.may_write(Principal("root", admin=True), "default")
