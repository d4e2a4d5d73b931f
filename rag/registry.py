"""The one shape every registry has: a dict of name -> the class (or function) itself, or "module:attribute"
imported on first use (so naming a part in config never imports its heavy library)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


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
