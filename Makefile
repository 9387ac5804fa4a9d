# Two commands on a fresh machine: `make run` (the workflow) and `make test` (the tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The tests' data (checkpoints, test clip, golden fixtures; docs/contributing.md) is read from
# SSTSAL_SHARED, by default a folder `shared` beside the repository when there is one; without
# it the tests build that data once from the published sources (tests/testdata.py). Its models/,
# when present, is also where `make run` takes the checkpoints from instead of downloading them.
SSTSAL_SHARED ?= $(wildcard $(abspath ../shared))
export SSTSAL_SHARED
SSTSAL_MODELS ?= $(if $(SSTSAL_SHARED),$(wildcard $(SSTSAL_SHARED)/models))
export SSTSAL_MODELS
CORES ?= all
# Which PyTorch build: empty (auto) takes the CPU build from PyTorch's CPU wheel index on a Linux
# machine without an NVIDIA driver when that index answers, else PyPI's default (tools/torch_wheels.py);
# TORCH=cpu or TORCH=cuda decides instead.
TORCH ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: venv test test-fast test-data lint run bench bench-e2e clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, at the newest release tested (2.14.1); pyproject.toml states the supported range.
	torch_index="$$($(PYTHON) tools/torch_wheels.py --torch '$(TORCH)' --index '$(TORCH_CPU_INDEX)')" && \
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1 $$torch_index
	$(PY) -m pip install -q -e '.[test,lint]'
	touch $@

test: venv
	$(PY) -m pytest -q -ra

# Everyday work: the unit tests, without the integration tests marked slow (workflow runs, SLURM,
# the browser, training runs). `make test` runs both.
test-fast: venv
	$(PY) -m pytest -q -ra -m "not slow"

# The test data built from the published sources (what the first test run does without SSTSAL_SHARED).
test-data: venv
	$(PY) tests/testdata.py fetch

# ruff (workflow/scripts know Snakemake's `snakemake` global), snakefmt, and Snakemake's own lint
# on the .test config (its demo clip is written first: the workflow needs a video to plan).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/Snakefile workflow/rules
	$(PY) -m sstsal demo-data .test/data/videos > /dev/null
	$(VENV)/bin/snakemake --lint --directory .test --snakefile workflow/Snakefile --cores 1

run: venv
	@# demo-data prints the demo's snakemake arguments (flow.method auto) when data/videos has only the demo clip.
	@# With SSTSAL_MODELS set, its checkpoints are copied into the model cache (sha256-checked), so that
	@# later plain `snakemake` runs find them too; otherwise they are downloaded.
	demo_args="$$($(PY) -m sstsal demo-data data/videos)" && \
	if [ -n "$$SSTSAL_MODELS" ]; then $(PY) -m sstsal download --from "$$SSTSAL_MODELS"; else $(PY) -m sstsal download; fi && \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/snakemake --cores $(CORES) $$demo_args
	@echo "Results are in $(abspath results)/<video>/: overlay.mp4, director.mp4, viewer.html (open it in a browser), contact_sheet.png, directions.csv, saliency/, provenance.json"

bench: venv
	$(PY) benchmarks/bench_inference.py

# The whole workflow on BENCH_VIDEOS with the device present (CPU: DIS flow), timed per stage and
# end to end; BENCH_ARGS adds options (e.g. --flow-width 1024). On a GPU machine without network:
# bash benchmarks/device_e2e.sh (see docs/gpu.md).
BENCH_VIDEOS ?= $(SSTSAL_SHARED)/videos
bench-e2e: venv
	$(PY) -m sstsal download
	$(PY) benchmarks/bench_e2e.py --videos $(BENCH_VIDEOS) --cores $(CORES) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .snakemake results logs
