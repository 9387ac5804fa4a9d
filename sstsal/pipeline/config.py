"""The workflow's config as the schema wants it, checked before any job.

``--config`` values arrive as strings (:func:`coerce_cli_strings`). Snakemake's ``validate``
reports a wrong key with the whole schema section (dozens of lines) and accepted unknown
top-level keys silently, so a typo such as ``--config vidoes=DIR`` ran the default folder;
:func:`check_config` names the key and the closest valid one instead, in one line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from sstsal.errors import ConfigError

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


def _schema_keys(schema: Mapping, prefix: str = "") -> Iterator[str]:
    """Every dotted key the schema defines ('videos', 'flow', 'flow.method', ...)."""
    for key, sub in schema.get("properties", {}).items():
        yield prefix + key
        yield from _schema_keys(sub, f"{prefix}{key}.")


def _cli_form(dotted: str, value: object = "...") -> str:
    """How a nested key is given with --config: flow.method -> 'flow={method: ...}'."""
    parts = dotted.split(".")
    text = f"{parts[-1]}: {value}"
    for part in reversed(parts[1:-1]):
        text = f"{part}: {{{text}}}"
    return f"'{parts[0]}={{{text}}}'" if len(parts) > 1 else f"{dotted}={value}"


def _unknown_key_message(dotted: str, siblings: list[str], schema: Mapping) -> str:
    prefix, _, key = dotted.rpartition(".")
    every = list(_schema_keys(schema))
    if dotted.replace("-", "_") in every or (key and "." in key and f"{prefix}.{key}".strip(".") in every):
        return (
            f"unknown config key '{dotted}': nested keys are written {_cli_form(dotted)} with --config "
            "(or as an indented mapping in a config file)"
        )
    close = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if close:
        return f"unknown config key '{dotted}': did you mean '{(prefix + '.' if prefix else '') + close[0]}'?"
    # a key put at the wrong level, e.g. --config method=dis for flow.method
    elsewhere = [k for k in every if k.rsplit(".", 1)[-1] == key]
    if elsewhere:
        return f"unknown config key '{dotted}': did you mean '{elsewhere[0]}' ({_cli_form(elsewhere[0])})?"
    where = f"under '{prefix}'" if prefix else "at the top level"
    return f"unknown config key '{dotted}': the keys {where} are {', '.join(siblings)} (config/README.md)"


def unknown_key(config: Mapping, schema: Mapping, prefix: str = "", root: Mapping | None = None) -> str | None:
    """The message for the first key of ``config`` the schema does not define, or None."""
    root = schema if root is None else root
    properties = schema.get("properties", {})
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in properties:
            return _unknown_key_message(dotted, list(properties), root)
        sub = properties[key]
        if isinstance(value, Mapping) and "properties" in sub:
            found = unknown_key(value, sub, f"{dotted}.", root)
            if found:
                return found
    return None


def invalid_value(config: Mapping, schema: Mapping) -> str | None:
    """One line for the most relevant schema violation of ``config``, or None."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return None
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "type" and isinstance(error.instance, str) and "object" in str(error.validator_value):
        return f"config {path} must be a mapping of its keys, e.g. {_cli_form(path + '.KEY', 'VALUE')}, not {error.instance!r}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"config {path}: {error.instance!r} is not one of {allowed}"
    return f"config {path}: {error.message}"


def check_config(config: Mapping, schema: Mapping) -> None:
    """Raise :class:`ConfigError` for an unknown key (naming the closest valid one) or a bad value."""
    message = unknown_key(config, schema) or invalid_value(config, schema)
    if message:
        raise ConfigError(message)
