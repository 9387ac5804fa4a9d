#!/bin/sh
# The software of the workflow's jobs, as the container recipes (Dockerfile, sstsal.def) install
# it: Debian's Python 3.11, a virtual environment in /opt/sstsal with the pinned dependencies of
# requirements.txt (PyTorch 2.14.1 with its CUDA libraries, Snakemake 9, OpenCV, ...), and the
# sstsal package from the source folder given as the first argument (the repository's root).
#   sh container/install.sh /path/to/sstsal-pipeline
set -eu
source_dir="${1:?usage: install.sh SOURCE_DIR (the sstsal-pipeline folder)}"
if [ ! -f "$source_dir/pyproject.toml" ] || [ ! -f "$source_dir/container/requirements.txt" ]; then
    echo "error: $source_dir is not the sstsal-pipeline folder (no pyproject.toml or container/requirements.txt)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
rm -rf /var/lib/apt/lists/*
python3 -m venv /opt/sstsal
/opt/sstsal/bin/pip install --no-cache-dir -r "$source_dir/container/requirements.txt"
# the package itself: its dependencies are the pinned ones above
/opt/sstsal/bin/pip install --no-cache-dir --no-deps "$source_dir"
/opt/sstsal/bin/pip check
/opt/sstsal/bin/sstsal --help > /dev/null
