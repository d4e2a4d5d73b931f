"""The one shape every registry has, and the options every part kind owns.

A :class:`Registry` maps a name to the class (or function) itself, or to "module:attribute" imported on first use,
so naming a part in config never imports its heavy library. A part kind's options base (:class:`KindOptions`)
names its registry and the field that picks the kind; validating a mapping against the base builds the chosen
class's own ``Options`` — so adding a kind is one module (the class with its ``Options``) plus one registry line,
and ``rag/config.py`` never changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


def load(target: str | Any) -> Any:
    """A registry entry: the object itself, or "module:attribute" imported now."""
    if isinstance(target, str):
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)
    return target


def known(name: str, registry: Mapping[str, Any], what: str) -> str:
    """`name` when the registry has it; a ValueError naming the choices otherwise (config validators use it)."""
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(registry)}")
    return name


class Registry(dict[str, Any]):
    """name -> the part (class or function) or "module:attribute"; `what` names the kind in messages."""

    def __init__(self, what: str, entries: Mapping[str, Any]):
        super().__init__(entries)
        self.what = what

    def load(self, name: str) -> Any:
        """The registered part, imported now; a ValueError naming the choices for an unknown name."""
        return load(self[self.known(name)])

    def known(self, name: str) -> str:
        return known(name, self, self.what)

    def register(self, name: str, entry: Any) -> None:
        """Add (or replace) a part: the object, or "module:attribute"."""
        self[name] = entry


class KindOptions(BaseModel):
    """Options of one part kind. The base class of a part sets ``registry`` and ``kind_field`` and
    ``chooses_kind = True``; a kind's class carries ``Options`` (a subclass with its own fields), which the base
    picks when it validates a mapping. A kind without its own ``Options`` uses the base."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    registry: ClassVar[Registry]
    kind_field: ClassVar[str]
    chooses_kind: ClassVar[bool] = False

    @classmethod
    def of(cls, data: Mapping[str, Any] | KindOptions | None = None) -> KindOptions:
        """The options of `data`'s kind, validated (``{}``: the default kind's). Build options this way, not by
        calling the base class, which is the base's own model and not its kind's."""
        return data if isinstance(data, KindOptions) else cls.model_validate(dict(data or {}))

    @classmethod
    def keys_of_kind(cls, section: Mapping[str, Any], kind: str) -> dict[str, Any]:
        """`section` (this part's mapping) less the keys that another kind has and `kind` has not: what a section
        written for one kind keeps when a higher layer (an environment variable) switches the part to `kind`. A key
        no kind has stays, to fail as a typo at its own name."""
        if kind not in cls.registry:
            return dict(section)
        own = options_of(cls.registry.load(kind), cls).model_fields
        others = {key for name in cls.registry for key in options_of(cls.registry.load(name), cls).model_fields}
        return {key: value for key, value in section.items() if key in own or key not in others}

    @model_validator(mode="wrap")
    @classmethod
    def _by_kind(cls, value: Any, handler: Any) -> Any:
        if cls.__dict__.get("chooses_kind") and isinstance(value, dict):
            kind = value.get(cls.kind_field, cls.model_fields[cls.kind_field].default)
            if kind in cls.registry:
                options = getattr(cls.registry.load(kind), "Options", cls)
                if options is not cls:
                    return options.model_validate(value)
        return handler(value)  # an unknown kind fails in the kind field's own validator, at its key


def options_of(part: Any, base: type[KindOptions]) -> type[KindOptions]:
    """A part's options model (its own ``Options``, else the part kind's base)."""
    return getattr(part, "Options", base)
