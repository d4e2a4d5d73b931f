"""`python -m rag`: look inside the store (and, as they land, ask and chat)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from apps.admin_cli import kb_app, users_app
from rag.console import fail, setup_environment
from rag.documents import location

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="PowerHouse RAG: search your ingested documents.",
)


@app.callback()
def _root() -> None:
    """PowerHouse RAG command line."""


@app.command()
def search(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", "--top-k", min=1, help="How many chunks to show."),
    filters: list[str] = typer.Option([], "--filter", "-f", help="Metadata filter key=value (repeatable)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config."),
    strategy: str | None = typer.Option(
        None, "--strategy", "-s", help="A retrieval strategy (rag.retrievers.REGISTRY; default: the config's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Search the store with the configured retriever: the top chunks with score, source, page and section."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import ConfigError, RagError
    from rag.search import parse_filters, search_traced

    console = Console()
    try:
        settings = load_config(config)
        if strategy:
            from rag.retrievers import REGISTRY

            if strategy not in REGISTRY:
                raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(REGISTRY)}")
        hits, trace = search_traced(settings, query, k=k, filter=parse_filters(filters) or None, strategy=strategy)
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    if as_json:
        hits_json = [{"id": h.id, "score": round(h.score, 4), "text": h.text, "metadata": h.metadata} for h in hits]
        print(json.dumps({"query": query, "retrieval": trace, "hits": hits_json}, indent=2))
        return
    for key, label in (("rewrites", "queries searched"), ("hyde_passage", "HyDE passage")):
        if trace.get(key):
            shown = " | ".join(trace[key]) if isinstance(trace[key], list) else " ".join(trace[key].split())
            console.print(f"{label}: {shown}", style="dim", highlight=False, markup=False)
    if not hits:
        console.print("no chunks match (check --filter)")
    for rank, hit in enumerate(hits, start=1):
        where = location(hit.metadata)
        console.print(f"[bold]{rank}.[/] [green]{hit.score:.3f}[/]  [cyan]{where}[/]", highlight=False)
        snippet = " ".join(hit.text.split())
        console.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}", highlight=False, markup=False)


def _print_sources(console, answer) -> None:
    if not answer.found:
        return
    console.print()
    for citation in answer.citations:
        where = citation.where
        flag = "" if citation.supported else "  [yellow](not supported by this passage)[/]"
        console.print(f"[bold][{citation.number}][/] [cyan]{where}[/]{flag}", highlight=False)
    if answer.invalid_citations:
        console.print(f"[yellow]cited passages that do not exist: {answer.invalid_citations}[/]")


def _open_pipeline(config: Path | None, debug: bool):
    """The configured RagPipeline, or a one-line error and exit."""
    setup_environment(debug)
    from rich.console import Console

    from rag.answer.pipeline import RagPipeline
    from rag.config import load_config
    from rag.errors import RagError

    try:
        return RagPipeline(load_config(config))
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)


@app.command()
def ask(
    question: str = typer.Argument(..., help="Your question."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Print tokens as they come."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole Answer as JSON."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Answer a question from your documents, with numbered sources."""
    from rich.console import Console

    from rag.errors import RagError

    pipeline = _open_pipeline(config, debug)
    console = Console()
    streamed: list[str] = []
    try:
        answer_stream = pipeline.stream(question)
        for token in answer_stream:
            streamed.append(token)
            if stream and not as_json:
                print(token, end="", flush=True)
        answer = answer_stream.answer
    except RagError as exc:
        fail(Console(stderr=True), exc, debug)
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2))
        return
    if not stream:
        print(answer.text, end="")
    else:
        _print_replacement(console, "".join(streamed), answer.text)
    print()
    _print_sources(console, answer)


def _print_replacement(console, streamed: str, final: str) -> None:
    """The checks after generation may replace what was streamed (a restated question asked again, a leak or an
    echo withheld): say so and print what stands."""
    if streamed.strip() != final.strip():
        console.print("\n[yellow]replaced after checking:[/]")
        print(final, end="")


@app.command()
def chat(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """A chat over your documents that remembers the conversation (empty line or Ctrl-D to quit)."""
    from rich.console import Console

    from rag.errors import RagError

    pipeline = _open_pipeline(config, debug)
    console = Console()
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        try:
            answer_stream = pipeline.stream(question, history)
            print("rag> ", end="", flush=True)
            streamed = []
            for token in answer_stream:
                streamed.append(token)
                print(token, end="", flush=True)
            _print_replacement(console, "".join(streamed), answer_stream.answer.text)
            print()
        except RagError as exc:
            console.print(f"[red]error:[/] {exc}")
            continue
        _print_sources(console, answer_stream.answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer_stream.answer.text}]


@app.command()
def serve(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    host: str | None = typer.Option(None, help="Interface (default: server.host, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: server.port, 8000)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """The REST API: /ingest, /query (SSE), /documents, /health, OpenAI-compatible /v1/chat/completions.

    Set RAG_API_TOKEN to require `Authorization: Bearer <token>`. OpenAPI docs at /docs."""
    setup_environment(debug)
    import os

    from rich.console import Console

    from rag.config import load_config
    from rag.errors import RagError
    from service.api import serve as run_server

    console = Console(stderr=True)
    try:
        settings = load_config(config)
        where = f"http://{host or settings.server.host}:{port or settings.server.port}"
        guarded = "token required" if os.environ.get(settings.server.token_env) else "no token"
        console.print(f"PowerHouse RAG API on {where} ({guarded}); docs at {where}/docs")
        run_server(settings, host, port)
    except RagError as exc:
        fail(console, exc, debug)


@app.command()
def mcp(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP instead of stdio."),
    host: str | None = typer.Option(None, help="Interface for --http (default: server.host, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port for --http (default: mcp.port, 8765)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """The MCP server for assistants and IDEs: tools search, ask, list_documents, get_chunk (and ingest with
    mcp.ingest: true), documents as doc:// resources. Over stdio by default; --http serves streamable HTTP at
    /mcp (with RAG_API_TOKEN set, `Authorization: Bearer <token>` is required)."""
    setup_environment(debug)
    import os

    from rich.console import Console

    from rag.config import load_config
    from rag.errors import RagError

    console = Console(stderr=True)  # stdout is the protocol's over stdio
    try:
        from service.mcp_server import serve as run_server
    except ImportError as exc:
        fail(console, RagError(f"the MCP SDK is not installed ({exc.name}): pip install -e '.[mcp]'"), debug)
    try:
        settings = load_config(config)
        if http:
            where = f"http://{host or settings.server.host}:{port or settings.mcp.port}{settings.mcp.path}"
            guarded = "token required" if os.environ.get(settings.server.token_env) else "no token"
            console.print(f"PowerHouse RAG MCP server on {where} ({guarded})")
        run_server(settings, http=http, host=host, port=port)
    except RagError as exc:
        fail(console, exc, debug)


@app.command()
def doctor(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (its llm.model is probed)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Probe this model instead of the config's."),
) -> None:
    """Check what a local answer needs: CPU features, the llama.cpp build, model files, a 5-token generation."""
    setup_environment(False)
    from rich.console import Console
    from rich.table import Table

    from rag.config import load_config
    from rag.errors import RagError
    from rag.packaged.doctor import run_checks

    console = Console()
    try:
        settings = load_config(config)
    except RagError as exc:
        fail(Console(stderr=True), exc, False)
    reference = model or (settings.llm.model if settings.llm.backend == "local" else None)
    with console.status("checking (the generation runs in a child process) …"):
        checks = run_checks(reference)
    table = Table(title="python -m rag doctor", show_lines=False)
    for column in ("check", "", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    console.print(table)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        console.print(f"[red]failed:[/] {', '.join(failed)}  (README: Troubleshooting)")
    raise typer.Exit(1 if failed else 0)


models_app = typer.Typer(
    no_args_is_help=True, help="Local models that ship in packages: GGUF answerers, ONNX embedders, SPLADE."
)
app.add_typer(models_app, name="models")
app.add_typer(kb_app, name="kb")
app.add_typer(users_app, name="users")


@models_app.command("list")
def models_list() -> None:
    """The packaged models (GGUF answerers and SPLADE from PyPI, ONNX embedders from Maven), pulled or not."""
    from rich.console import Console
    from rich.table import Table

    from rag.packaged.encoders import ENCODER_MODELS, is_pulled
    from rag.packaged.models import REGISTRY, model_path, models_dir

    table = Table(title=f"Packaged models (cache: {models_dir()})")
    for column in ("name", "kind", "size", "state", "about"):
        table.add_column(column)
    for name, model in REGISTRY.items():
        state = "assembled" if model_path(name).exists() else "not pulled"
        table.add_row(name, "llm (GGUF, PyPI)", f"{model.size_mb} MB", state, model.summary)
    for name, encoder in ENCODER_MODELS.items():
        state = "unpacked" if is_pulled(name) else "not pulled"
        table.add_row(name, encoder.kind, f"{encoder.size_mb} MB", state, encoder.summary)
    Console().print(table)


@models_app.command("pull")
def models_pull(
    name: str | None = typer.Argument(None, help="A name from `models list`; none: every model the config uses."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (without a name)."),
    debug: bool = typer.Option(False, "--debug"),
) -> None:
    """Fetch a packaged model into the cache and verify its sha256 (offline afterwards)."""
    setup_environment(debug)
    from rich.console import Console

    from rag.config import load_config
    from rag.errors import RagError
    from rag.packaged.encoders import ENCODER_MODELS, pull_encoder
    from rag.packaged.models import REGISTRY, pull

    console = Console(stderr=True)
    try:
        if name:
            names = [name]
        else:
            settings = load_config(config)
            wanted = [settings.embedding.model, settings.llm.model if settings.llm.backend == "local" else None]
            if settings.store.sparse.enabled:
                wanted.append(settings.store.sparse.model)
            names = [n for n in wanted if n in ENCODER_MODELS or n in REGISTRY]
        for model in names:
            with console.status(f"fetching {model} …"):
                path = pull_encoder(model) if model in ENCODER_MODELS else pull(model)
            print(path)
    except RagError as exc:
        fail(console, exc, debug)


@models_app.command("verify")
def models_verify(name: str = typer.Argument(..., help="A name from `models list`.")) -> None:
    """Check an assembled model against its pinned sha256 (exit 1 when it does not match)."""
    from rich.console import Console

    from rag.errors import RagError
    from rag.packaged.models import model_path, verify

    console = Console(stderr=True)
    try:
        ok = verify(name)
    except RagError as exc:
        fail(console, exc, False)
    console.print(f"{name}: {'ok' if ok else 'MISSING or CORRUPT'} ({model_path(name)})")
    raise typer.Exit(0 if ok else 1)
