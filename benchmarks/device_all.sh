#!/usr/bin/env bash
# Every GPU check of the project in one run (about 5 minutes on an H100); prints numbers only.
#   SSTSAL_SHARED=/path/to/shared bash benchmarks/device_all.sh
# Runs from the source tree (PYTHONPATH=.) with the machine's own PyTorch.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
export SSTSAL_SHARED=${SSTSAL_SHARED:-$(cd .. && pwd)/shared}
export SSTSAL_MODELS=$SSTSAL_SHARED/models
PYTHON=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$PYTHON" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
echo "== SST-Sal golden maps on CUDA"
timeout 120 "$PYTHON" benchmarks/check_golden.py --device cuda
echo "== SST-Sal inference speed on CUDA (straightforward vs ours, same run)"
timeout 150 "$PYTHON" benchmarks/bench_inference.py --device cuda --windows 32
echo "== RAFT flow checks"
PYTHON=$PYTHON timeout 200 bash benchmarks/device_flow.sh
echo "== training on CUDA"
timeout 90 "$PYTHON" benchmarks/device_training.py --device cuda
