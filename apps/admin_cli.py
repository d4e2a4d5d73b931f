"""`python -m rag kb …` and `python -m rag users …`: knowledge bases and who may use them (service/knowledge_bases.py,
service/identity.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from rag.console import fail, setup_environment

kb_app = typer.Typer(no_args_is_help=True, help="Knowledge bases: create, list, delete.")
users_app = typer.Typer(no_args_is_help=True, help="Users and their API keys: add, list, revoke.")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml).")
DEBUG = typer.Option(False, "--debug", help="Show tracebacks.")


def _groups(value: str) -> list[str]:
    return [g.strip() for g in value.split(",") if g.strip()]


@kb_app.command("create")
def kb_create(
    name: str = typer.Argument(..., help="Lower-case letters, digits and '_'."),
    read: str = typer.Option("", "--read", help="Groups that may read it, comma-separated ('*': every user)."),
    write: str = typer.Option("", "--write", help="Groups that may upload and delete in it, comma-separated."),
    config: Path | None = CONFIG,
    debug: bool = DEBUG,
) -> None:
    """Create a knowledge base (its own store collection, indexes and uploads) with its access rules."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import RagError
    from service.knowledge_bases import KnowledgeBases

    console = Console()
    try:
        settings = load_config(config)
        rule = KnowledgeBases(settings.server.knowledge_bases).create(name, _groups(read), _groups(write))
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    readers, writers = ", ".join(rule["read"]) or "admins only", ", ".join(rule["write"]) or "admins only"
    console.print(f"knowledge base [bold]{name}[/]: read {readers}; write {writers}")
    console.print(f"fill it: python -m ingest PATH --kb {name}")


@kb_app.command("list")
def kb_list(config: Path | None = CONFIG, debug: bool = DEBUG) -> None:
    """The knowledge bases, their access rules and sizes."""
    setup_environment(debug)
    from rich.console import Console
    from rich.table import Table

    from ingest.manifest import read_sources
    from rag.config import knowledge_base_settings, load_config
    from rag.errors import RagError
    from service.knowledge_bases import KnowledgeBases

    console = Console()
    try:
        settings = load_config(config)
        table = Table("knowledge base", "read", "write", "documents", "collection")
        for name, rule in KnowledgeBases(settings.server.knowledge_bases).all().items():
            kb = knowledge_base_settings(settings, name)
            manifest = kb.store.manifest_path()
            documents = len(read_sources(manifest)) if manifest.exists() else 0
            table.add_row(
                name,
                ", ".join(rule["read"]) or "admins",
                ", ".join(rule["write"]) or "admins",
                str(documents),
                kb.store.collection,
            )
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    console.print(table)


@kb_app.command("delete")
def kb_delete(
    name: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    config: Path | None = CONFIG,
    debug: bool = DEBUG,
) -> None:
    """Delete a knowledge base: its rule, its chunks, manifest and indexes."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import RagError
    from service.knowledge_bases import KnowledgeBases

    if not yes:
        typer.confirm(f"delete the knowledge base {name!r} and everything ingested into it?", abort=True)
    try:
        settings = load_config(config)
        KnowledgeBases(settings.server.knowledge_bases).delete(name, settings)
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    Console().print(f"deleted the knowledge base {name}")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(...),
    groups: str = typer.Option("", "--groups", help="Comma-separated groups."),
    config: Path | None = CONFIG,
    debug: bool = DEBUG,
) -> None:
    """Add a user (or give one a new key): the key is printed once and only its hash is kept."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import ConfigError, RagError
    from service.identity import KeyFile

    try:
        settings = load_config(config)
        if not settings.server.users:
            raise ConfigError("server.users is not set: name the users file in the config (server: {users: PATH})")
        key = KeyFile(settings.server.users).add(name, _groups(groups))
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    Console(stderr=True).print(f"user {name} ({', '.join(_groups(groups)) or 'no groups'}); the key, shown once:")
    print(key)


@users_app.command("list")
def users_list(config: Path | None = CONFIG, debug: bool = DEBUG) -> None:
    """The users, their groups, and whether their key is revoked (keys are never shown)."""
    setup_environment(debug)
    from rich.console import Console
    from rich.table import Table

    from rag.config import load_config
    from rag.errors import ConfigError, RagError
    from service.identity import KeyFile

    try:
        settings = load_config(config)
        if not settings.server.users:
            raise ConfigError("server.users is not set in the config")
        table = Table("user", "groups", "created", "revoked")
        for name, user in KeyFile(settings.server.users).users().items():
            table.add_row(name, ", ".join(user["groups"]), user["created"], "yes" if user["revoked"] else "")
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    Console().print(table)


@users_app.command("revoke")
def users_revoke(name: str = typer.Argument(...), config: Path | None = CONFIG, debug: bool = DEBUG) -> None:
    """Revoke a user's key (its requests get 401 from now on)."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import ConfigError, RagError
    from service.identity import KeyFile

    try:
        settings = load_config(config)
        if not settings.server.users:
            raise ConfigError("server.users is not set in the config")
        KeyFile(settings.server.users).revoke(name)
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    Console().print(f"revoked the key of {name}")
