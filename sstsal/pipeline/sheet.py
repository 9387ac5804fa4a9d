"""The sample sheet: per-video settings in a TSV (config key ``sheet``), checked before any job.

One row per video (``video``: the file name without extension); the other columns are declared
by ``workflow/schemas/sheet.schema.yaml`` (type, allowed values, description), so a new column is
one entry there. Empty cells mean "not set" (``auto`` for the 360-degree layout columns).
"""

from __future__ import annotations

import csv
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sstsal.errors import ConfigError

_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _cell(value: str, spec: Mapping[str, Any]) -> Any:
    """A TSV cell as the type its column wants (the text itself when it does not read as one)."""
    text = value.strip()
    if text == "":
        return None
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    if "boolean" in types and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if "number" in types and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", text.lower()):
        return float(text)
    if "integer" in types and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return text


def load_sheet(path: str | os.PathLike, schema: Mapping[str, Any], videos: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{video: {column: value}} of the sheet at ``path``; columns left empty are left out.

    Raises :class:`ConfigError` with one line naming the file, line and column for a missing file,
    a missing ``video`` column, an unknown column (with the closest known one), a duplicated or
    unknown video (with the closest video of the folder) or a value the schema does not allow.
    """
    import jsonschema

    path, videos = Path(path), sorted(videos)
    if not path.is_file():
        raise ConfigError(f"sample sheet {path} (config key `sheet`) does not exist: create it or set sheet: null")
    columns_spec = schema["properties"]
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t") if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise ConfigError(f"sample sheet {path} is empty: it needs a header line with at least the column `video`")
    header = [c.strip() for c in rows[0]]
    if "video" not in header:
        raise ConfigError(f"sample sheet {path} has no `video` column (header: {', '.join(header)}); "
                          "the columns are tab-separated")  # fmt: skip
    for column in header:
        if column not in columns_spec:
            close = difflib.get_close_matches(column, list(columns_spec), n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"the columns are {', '.join(columns_spec)}"
            raise ConfigError(f"sample sheet {path}: unknown column `{column}`: {hint} (config/README.md)")
    validator = jsonschema.validators.validator_for(schema)(schema)
    table: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise ConfigError(f"sample sheet {path} line {number} has {len(row)} cells for {len(header)} columns "
                              "(separate the columns with tabs)")  # fmt: skip
        entry = {c: _cell(v, columns_spec[c]) for c, v in zip(header, row)}
        entry = {c: v for c, v in entry.items() if v is not None}
        video = entry.get("video")
        if video is None:
            raise ConfigError(f"sample sheet {path} line {number}: the `video` cell is empty")
        video = str(video)
        if video not in videos:
            close = difflib.get_close_matches(video, videos, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"the videos are {', '.join(videos) or 'none'}"
            raise ConfigError(f"sample sheet {path} line {number}: no video `{video}` in the video folder "
                              f"(the file name without extension): {hint}")  # fmt: skip
        if video in table:
            raise ConfigError(f"sample sheet {path} line {number}: video `{video}` has a second row: keep one")
        error = jsonschema.exceptions.best_match(validator.iter_errors({**entry, "video": video}))
        if error is not None:
            column = ".".join(str(p) for p in error.absolute_path) or "(row)"
            if error.validator == "enum":
                allowed = ", ".join(str(v) for v in error.validator_value)
                what = f"{error.instance!r} is not one of {allowed}"
            else:
                what = error.message
            raise ConfigError(f"sample sheet {path} line {number}, column `{column}`: {what}")
        table[video] = {c: v for c, v in entry.items() if c != "video"}
    return table
