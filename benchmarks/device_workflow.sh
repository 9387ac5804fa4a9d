#!/usr/bin/env bash
# The whole workflow on a CUDA device: ../shared/videos/testRoom1_1920Mono.mp4 with RAFT flow
# (random-weight fixture checkpoint: the machine is offline, the timing is what matters) and
# SST-Sal inference on CUDA. Prints the time of every stage; about 1-2 minutes on an H100.
#   bash benchmarks/device_workflow.sh   (PYTHON=... to choose the interpreter; SSTSAL_SHARED=...)
# METHOD=dis DEVICE=cpu runs the same on a machine without a GPU (a smoke test of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export SSTSAL_SHARED=${SSTSAL_SHARED:-$(cd .. && pwd)/shared}
export SSTSAL_MODELS=$SSTSAL_SHARED/models
missing=$("$PYTHON" -c '
import importlib.util
mods = ("snakemake", "ffmpeg", "imageio_ffmpeg", "cv2", "torch", "torchvision", "tqdm", "matplotlib", "yaml")
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))')
if [ -n "$missing" ]; then
    echo "device_workflow: python modules missing on this machine: $missing (pip install -e . first)"
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/config.yaml" <<YAML
videos: $SSTSAL_SHARED/videos
flow:
  method: ${METHOD:-raft}
  raft_checkpoint: $SSTSAL_SHARED/fixtures/raft-golden/raft-random-init.pth
model:
  device: ${DEVICE:-cuda}
YAML
start=$(date +%s)
if ! "$PYTHON" -m snakemake --snakefile "$REPO/Snakefile" --directory "$work" --configfile "$work/config.yaml" \
        --cores all > "$work/run.log" 2>&1; then
    tail -40 "$work/run.log"
    for log in "$work"/logs/*/*.log; do echo "== $log"; tail -c 2000 "$log"; done
    exit 1
fi
echo "whole run: $(( $(date +%s) - start )) s wall (snakemake start-up included)"
echo "stage                 wall_s   cpu_s  max_rss_MB"
for rule in probe extract_frames extract_flow_frames flow validate inference render summary; do
    tsv="$work/logs/benchmarks/$rule/testRoom1_1920Mono.tsv"
    if [ -f "$tsv" ]; then tail -1 "$tsv" | awk -v r="$rule" '{printf "%-20s %7.1f %7.1f %10.0f\n", r, $1, $10, $3}'; fi
done
tr '\r' '\n' < "$work/logs/flow/testRoom1_1920Mono.log" | grep -v -E "frame/s|s/frame|it/s" | head -8
