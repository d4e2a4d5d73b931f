"""The YAML configuration, validated by pydantic; environment variables override keys.

``RAG__<SECTION>__<KEY>`` overrides ``section.key`` (e.g. ``RAG__STORE__PATH=./other``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.embeddings.base import EmbeddingOptions
from rag.errors import ConfigError
from rag.llms.base import LLMOptions
from rag.retrievers.options import RetrieverOptions
from rag.stores.base import BM25Config, StoreOptions, store_options

# The sections of the parts chosen by kind are the parts' own options (rag/<part>/base.py, and each kind's module
# for its own fields): this module only composes them, and names no kind and no registry entry.
__all__ = [
    "BM25Config",
    "EmbeddingOptions",
    "LLMOptions",
    "RetrieverOptions",
    "Settings",
    "StoreOptions",
    "load_config",
    "store_options",
]

# In a checkout: configs/default.yaml. An installed wheel has no configs/ folder; then the models' own
# defaults apply, which are the same values (tests/unit/test_config.py keeps the two in step).
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class JsonLoaderConfig(_Section):
    text_fields: list[str] = Field(default_factory=list, description="fields joined into the text; [] = all")
    metadata_fields: list[str] = Field(default_factory=list, description="fields copied into chunk metadata")
    id_field: str | None = None
    records_key: str | None = Field(None, description="key holding the record list in a JSON object")


class CsvLoaderConfig(_Section):
    rows_per_document: int = Field(1, ge=1)
    delimiter: str | None = Field(None, description="None = sniffed")


class SheetLoaderConfig(_Section):
    """Spreadsheets (XLSX, XLSM, XLS, ODS): a Document per block of rows, the header row repeated in each."""

    rows_per_document: int = Field(20, ge=1)
    max_rows: int = Field(200_000, ge=1, description="rows read per sheet; the rest is reported and skipped")


class MailLoaderConfig(_Section):
    attachments: bool = Field(True, description="ingest attachments as their own documents through the loaders")


class OcrConfig(_Section):
    """Text from pixels: images, and PDF pages without a text layer (ingest/ocr.py).

    ``loaders.ocr: off`` (or ``auto``/``always``) is short for ``loaders.ocr.mode``."""

    mode: Literal["auto", "always", "off"] = Field(
        "auto", description="auto: images and PDF pages with no text layer; always: every PDF page too; off: none"
    )
    engine: str = Field(
        "auto", description="auto (tesseract if installed, else rapidocr) | rapidocr (ONNX, in the wheel) | tesseract"
    )
    language: str = Field("en", description="en | zh for rapidocr; a tesseract language code (eng, deu…) for tesseract")
    dpi: int = Field(200, ge=72, le=600, description="PDF pages are rendered at this resolution for OCR")
    min_confidence: float = Field(0.5, ge=0, le=1, description="lines read with less confidence are dropped")
    max_megapixels: float = Field(100, gt=0, description="larger images are refused (a decompression bomb?)")
    max_pages: int = Field(2000, ge=1, description="pages of one scan or multi-page image that are read")

    @model_validator(mode="before")
    @classmethod
    def _mode_shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML reads a bare `off` as false, `on` as true
            return {"mode": "auto" if value else "off"}
        if isinstance(value, str):
            return {"mode": value}
        return value


class LoaderConfig(_Section):
    # fnmatch patterns on the path relative to the ingest root; `*` also matches `/`.
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=lambda: [".*", "*/.*", "__pycache__/*", "*/__pycache__/*"])
    max_file_mb: float = Field(100.0, gt=0)
    follow_symlinks: bool = Field(
        False, description="follow symbolic links inside an ingested folder (never out of it; each skip is reported)"
    )
    # Each file is parsed in a child process with these budgets (ingest/sandbox.py): a parser that spins or
    # swells costs its one file, reported with the budget it broke. sandbox: false parses in-process.
    sandbox: bool = True
    parse_timeout_s: float = Field(120.0, gt=0)
    parse_memory_mb: int = Field(2048, ge=0, description="address-space cap of the parser process; 0 = none")
    pdf_tables: bool = True
    json_records: JsonLoaderConfig = Field(default_factory=JsonLoaderConfig, alias="json")
    csv: CsvLoaderConfig = Field(default_factory=CsvLoaderConfig)
    sheets: SheetLoaderConfig = Field(default_factory=SheetLoaderConfig)
    mail: MailLoaderConfig = Field(default_factory=MailLoaderConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)


class SplitterConfig(_Section):
    # 0 = the embedding model's whole window (510 word pieces for bge-small): with bge-small and BM25, whole
    # SciFact abstracts beat 128-token chunks (0.733 vs 0.719 hybrid at 0.5). MiniLM wants 128 (the length it
    # was trained on; configs/minilm.yaml). docs/benchmarks.md#retrieval.
    chunk_size: int = Field(0, ge=0, description="tokens of the embedding model; 0 = the model's window")
    chunk_overlap: int = Field(0, ge=0)
    header_aware: bool = True
    # One chunk per document, cut at chunk_size tokens, the rest dropped: how MTEB/BEIR embed a corpus.
    # For reproducing published numbers; answers want the whole text (false).
    truncate: bool = False
    # Contextual chunk headers: what a chunk's text leaves implicit is prefixed to the text that is embedded
    # and keyword-indexed (the stored text stays an exact slice): the section path, the document's title, and
    # for a piece of a table the table's header rows (docs/benchmarks.md#long-pdfs).
    context_header: bool = False
    table_header: bool = False


class AnswerConfig(_Section):
    k: int = Field(5, ge=1, description="passages retrieved per question")
    min_score: float = Field(0.25, description="below this top similarity: answer 'not found' without the LLM")
    context_tokens: int = Field(1500, ge=100, description="budget for the passages in the prompt")
    expand: int = Field(0, ge=0, le=4, description="small-to-big: neighbouring chunks shown with each hit")
    segments: bool = Field(
        False, description="retrieved chunks that are neighbours in their page or record shown as one passage"
    )
    passage_tokens: int = Field(0, ge=0, description="read small: a longer passage keeps its lines about the question")
    history_turns: int = Field(6, ge=0, description="recent messages kept verbatim")
    history_tokens: int = Field(
        800, ge=50, description="above this, older messages are summarised; a longer message is cut to fit"
    )
    # Limits of what any front (REST API, OpenAI endpoint, app, MCP) accepts; over them: a clear refusal (413).
    # 8,000 characters (~2,000 tokens) leave room for passages and the answer in a 4,096-token window; the passages
    # make room for a long question (the context budget shrinks), and past that the question is refused.
    max_question_chars: int = Field(8000, ge=10, description="the longest question accepted")
    max_history_chars: int = Field(200_000, ge=0, description="the longest conversation (all messages) accepted")
    min_lexical: float = Field(0.5, ge=0, le=1, description="citation support: shared content words")
    min_cosine: float = Field(0.6, ge=-1, le=1, description="citation support: embedding similarity")
    uncited: Literal["note", "withhold"] = Field(
        "note", description="an answer citing none of the passages: shown with a note, or withheld as not found"
    )
    calculate: bool = Field(
        True, description="ratios, margins, changes: the model picks cited inputs, a calculator computes"
    )
    formulas: str | None = Field(
        None, description="standard metrics from statement rows: a packaged set (finance) or a YAML file"
    )


class EntitiesConfig(_Section):
    """Entity extraction for a graph store (rag/graph/entities.py): none, fast (no model) or llm (the LLM)."""

    extractor: Literal["none", "fast", "llm"] = "none"
    cache: str | None = Field(".rag/cache/entities.sqlite", description="LLM extractions by chunk hash; None = off")


class RayConfig(_Section):
    """The Ray engine (ingest/ray_engine.py): an actor pool parses, splits and embeds; the driver writes."""

    address: str | None = Field(None, description="an existing cluster (ray://host:10001 or auto); None = local")
    num_cpus: int | None = Field(None, ge=1, description="a local cluster's CPUs (None: all)")
    workers: int = Field(2, ge=1, description="actors, each with its own embedding model")
    cpus_per_worker: float = Field(1, gt=0)
    gpus_per_worker: float = Field(0, ge=0, description="set with embedding.device: cuda")


class AccessRule(_Section):
    """One `ingest.acl` rule: the files whose source id (``<folder>/<path>``) matches the glob `match` (fnmatch: ``*``
    crosses folders) may be read only by `groups`, within the knowledge base. Groups given for a run (``python -m ingest
    --groups``, an upload's choice) come first; then the first matching rule; a file no rule matches keeps the groups
    it had, else everyone who may read the knowledge base reads it."""

    match: str = Field(..., min_length=1)
    groups: list[str] = Field(..., min_length=1)


class IngestConfig(_Section):
    acl: list[AccessRule] = Field(default_factory=list, description="per-document read groups by path (AccessRule)")
    manifest: str | None = Field(None, description="manifest path; None = beside the store")
    prune: bool = True
    window: int = Field(512, ge=1, description="most chunks embedded before they are written (length-bucketed)")
    window_s: float = Field(
        2.0, gt=0, description="a window is what the embedder does in about this long: files commit this often"
    )
    max_chunks_per_file: int = Field(
        50_000, ge=1, description="a file making more chunks fails with a message (a runaway log, a text dump)"
    )
    entities: EntitiesConfig = Field(default_factory=EntitiesConfig)
    engine: Literal["local", "ray"] = Field("local", description="local threads, or Ray (ingest.ray)")
    ray: RayConfig = Field(default_factory=RayConfig)


class UploadsConfig(_Section):
    """Files users upload (Streamlit app, REST API): kept under `dir`, ingested like any folder."""

    dir: str = Field(".rag/library", description="uploads live in <dir>/uploads/ and are ingested from <dir>")
    max_file_mb: float = Field(25, gt=0)
    max_files: int = Field(20, ge=1, description="files per upload request")
    types: list[str] | None = Field(
        None, description="accepted extensions, e.g. ['.pdf', '.docx']; null = every type the loaders read"
    )


class ChatConfig(_Section):
    """The chat app's conversations and the feedback on its answers (service/conversations.py)."""

    conversations: str = Field(".rag/conversations", description="one JSON file per conversation, per browser")
    feedback: str = Field(".rag/feedback.jsonl", description="thumbs up/down with comments, one JSON line each")


class JwtConfig(_Section):
    """`server.jwt`: bearer JWTs verified with PyJWT (signature, exp, iss, aud); groups from one claim."""

    public_key: str | None = Field(None, description="a PEM public key file")
    jwks: str | None = Field(None, description="a JWKS JSON file (keys chosen by the token's kid)")
    issuer: str | None = None
    audience: str | None = None
    groups_claim: str = "groups"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])


class ServerConfig(_Section):
    """`python -m rag serve`: the REST API."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    token_env: str = Field("RAG_API_TOKEN", description="the NAME of the variable holding the bearer token")
    max_request_mb: float = Field(30, gt=0, description="largest request body (uploads included)")
    users: str | None = Field(
        None, description="the JSON file of users and their hashed API keys (python -m rag users add); null = none"
    )
    jwt: JwtConfig | None = Field(None, description="accept JWT bearer tokens from an identity provider")
    knowledge_bases: str = Field(
        ".rag/knowledge-bases.json", description="the knowledge bases and who may read and write each"
    )
    audit: str | None = Field(None, description="JSON lines of who asked what and got which chunks; null = off")
    proxy_user_header: str | None = Field(
        None, description="the app behind an authenticating proxy: the header naming the user (trusted as is)"
    )
    proxy_groups_header: str | None = Field(None, description="the proxy's header of comma-separated groups")


class McpConfig(_Section):
    """`python -m rag mcp`: the MCP server (service/mcp_server.py) — stdio by default, streamable HTTP with --http
    (on server.host, behind the server.token_env token when it is set)."""

    ingest: bool = Field(False, description="offer the ingest tool (it writes to the store: opt-in)")
    port: int = Field(8765, ge=1, le=65535, description="the streamable HTTP port (--http)")
    path: str = Field("/mcp", description="the streamable HTTP endpoint")
    max_k: int = Field(50, ge=1, description="the most passages one search may ask for")


class TracingConfig(_Section):
    """OpenTelemetry traces of ingest and answers (rag/tracing.py), OpenInference conventions; off by default."""

    enabled: bool = False
    endpoint: str | None = Field(
        "http://127.0.0.1:4317",
        description="OTLP receiver (Phoenix, Langfuse, a collector); None = the application's own tracer provider",
    )
    protocol: Literal["grpc", "http"] = Field("grpc", description="grpc (port 4317) or http/protobuf (…/v1/traces)")
    service_name: str = "powerhouse-rag"
    capture_content: bool = Field(True, description="false: no question, passage or answer text in spans")
    headers_env: str | None = Field(None, description="the NAME of a variable with OTLP headers (k=v,k=v)")


# The sections whose part is chosen by kind, and the options base that chooses it.
KIND_CHOSEN = {"embedding": EmbeddingOptions, "llm": LLMOptions, "store": StoreOptions}


class _YamlUnderEnv(PydanticBaseSettingsSource):
    """The YAML's values where the environment switches a part's kind: that section keeps only the keys the new
    kind has (a YAML written for the local LLM, with ``n_threads``, loads under ``RAG__LLM__BACKEND=openai``)."""

    def __init__(
        self, settings_cls: type[BaseSettings], yaml: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource
    ):
        super().__init__(settings_cls)
        self.yaml, self.env = yaml, env

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data, overrides = self.yaml(), self.env()
        for name, base in KIND_CHOSEN.items():
            section, override = data.get(name), overrides.get(name)
            if isinstance(section, dict) and isinstance(override, dict) and base.kind_field in override:
                kind = override[base.kind_field]
                if kind != section.get(base.kind_field):
                    data = {**data, name: base.keys_of_kind(section, kind)}
        return data


class EnvOverYaml(BaseSettings):
    """Settings read from YAML (passed as init kwargs) where environment variables win."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, _YamlUnderEnv(settings_cls, init_settings, env_settings))


class Settings(EnvOverYaml):
    """Every part of the system, selected by name."""

    model_config = SettingsConfigDict(
        env_prefix="RAG__", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    loaders: LoaderConfig = Field(default_factory=LoaderConfig)
    splitter: SplitterConfig = Field(default_factory=SplitterConfig)
    embedding: SerializeAsAny[EmbeddingOptions] = Field(default_factory=EmbeddingOptions.of)
    store: SerializeAsAny[StoreOptions] = Field(default_factory=store_options)  # dumped as its kind's model
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    llm: SerializeAsAny[LLMOptions] = Field(default_factory=LLMOptions.of)
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    retriever: RetrieverOptions = Field(default_factory=RetrieverOptions)
    uploads: UploadsConfig = Field(default_factory=UploadsConfig)
    chat: ChatConfig = Field(default_factory=ChatConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)


DEFAULT_KB = "default"


def knowledge_base_settings(settings: Settings, name: str) -> Settings:
    """The settings of knowledge base `name` (service/knowledge_bases.py): the configured store with its own
    collection (so its own manifest, keyword and side indexes), and its own uploads folder; ``default`` is the
    configured store as it is."""
    if name == DEFAULT_KB:
        return settings
    store = settings.store.model_copy(update={"collection": f"{settings.store.collection}__{name}"})
    uploads = settings.uploads.model_copy(update={"dir": str(Path(settings.uploads.dir) / "kb" / name)})
    return settings.model_copy(update={"store": store, "uploads": uploads})


def knowledge_base_names(settings: Settings) -> list[str]:
    """The knowledge bases the registry (``server.knowledge_bases``) knows, ``default`` first."""
    path = Path(settings.server.knowledge_bases)
    try:
        known = json.loads(path.read_text(encoding="utf-8")).get("knowledge_bases", {}) if path.exists() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"the knowledge base registry {path} cannot be read ({exc})") from None
    return [DEFAULT_KB, *(name for name in known if name != DEFAULT_KB)]


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read a YAML config (default: configs/default.yaml), apply env overrides, validate."""
    config_path = Path(path) if path else DEFAULT_CONFIG
    data = read_yaml_mapping(config_path, required=bool(path), what="config file")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path)) from None


def read_yaml_mapping(path: Path, required: bool, what: str = "config file") -> dict[str, Any]:
    """The YAML mapping in `path` ({} when it is absent and not `required`); a one-line ConfigError otherwise."""
    if not required and not path.exists():
        return {}
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _describe(exc: ValidationError, path: Path) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid config key '{key}' in {path.name}: {message}{more}"
