#!/usr/bin/env bash
# Install this repository's sstsal package into the fresh conda environment.
# Snakemake runs this from the workflow's working directory (the repository root when you run
# `snakemake` there); set SSTSAL_SOURCE=/path/to/sstsal-pipeline when you use --directory.
set -euo pipefail
source="${SSTSAL_SOURCE:-.}"
if [ ! -f "$source/pyproject.toml" ]; then
    echo "sstsal sources not found in '$source': set SSTSAL_SOURCE to the sstsal-pipeline folder" >&2
    exit 1
fi
python -m pip install --no-deps "$source"
