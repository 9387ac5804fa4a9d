"""The workflow's config as the schema wants it: ``--config`` values arrive as strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?")


def coerce_cli_strings(cfg: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Turn string values into the types ``schema`` wants, in place.

    ``snakemake --config flow='{width: 640}'`` parses nested values as strings ("640"); the
    schema's validation would refuse them. Only strings that read as one of the allowed types
    are converted (null, boolean, integer, number, in that order); others are left for the
    validation to report.
    """
    for key, sub in schema.get("properties", {}).items():
        if key not in cfg:
            continue
        value, types = cfg[key], sub.get("type", [])
        types = [types] if isinstance(types, str) else types
        if isinstance(value, dict) and "object" in types:
            coerce_cli_strings(value, sub)
        elif isinstance(value, str):
            lowered = value.strip().lower()
            if "null" in types and lowered in ("null", "none", "~", ""):
                cfg[key] = None
            elif "boolean" in types and lowered in ("true", "false"):
                cfg[key] = lowered == "true"
            elif "integer" in types and _INTEGER.fullmatch(lowered):
                cfg[key] = int(lowered)
            elif "number" in types and _NUMBER.fullmatch(lowered):
                cfg[key] = float(lowered)
