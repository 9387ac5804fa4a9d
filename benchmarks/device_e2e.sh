#!/usr/bin/env bash
# The whole workflow on a CUDA GPU, end to end (benchmarks/bench_e2e.py, the snakemake CLI):
# RAFT flow at width 2048 and 1024, on ../shared/videos/testRoom1_1920Mono.mp4 (12 s) and on a
# longer clip made on the spot (that clip looped to LONG_SECONDS=60 s, 1920x960, no re-encode).
# Prints the GPU, the versions, one stage table per run and a summary; at most 8 minutes
# (BUDGET_S=470: a run that would not start in time is skipped and says so).
#
#   bash benchmarks/device_e2e.sh --prepare   # here, with PyPI: fill .device/ (46 MiB; see device_bundle.py)
#   bash benchmarks/device_e2e.sh             # on the offline GPU machine (device tool: carry [".device"])
#   bash benchmarks/device_e2e.sh --cpu       # the same steps on a CPU: DIS flow, the CUDA parts skipped
#
# On the GPU machine it installs what is missing there (snakemake and its needs, ffmpeg-python,
# imageio-ffmpeg) from .device/wheels into a scratch folder, unpacks .device/ffmpeg.xz, and takes
# the clip and the SST-Sal checkpoint from ../shared or else .device/. RAFT runs with random
# weights (torchvision raft_large, seed 0): the real raft-sintel weights are not on our machines,
# and speed does not depend on the values. Settings: E2E_WIDTHS ("2048 1024"), LONG_SECONDS (60),
# E2E_CLIP (the 12 s clip), BUDGET_S, PYTHON. --cpu defaults: E2E_WIDTHS=1024, LONG_SECONDS=24.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=cuda
case "${1:-}" in
    --prepare)
        PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
        exec env PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" benchmarks/device_bundle.py ;;
    --cpu) MODE=cpu ;;
    "") ;;
    *) echo "error: unknown option $1: use --prepare, --cpu or nothing (see the top of $0)" >&2; exit 2 ;;
esac
START=$(date +%s)
BUDGET_S=${BUDGET_S:-470}
if [ "$MODE" = cpu ]; then
    WIDTHS=${E2E_WIDTHS:-1024}; LONG_SECONDS=${LONG_SECONDS:-24}; METHOD=dis
else
    WIDTHS=${E2E_WIDTHS:-2048 1024}; LONG_SECONDS=${LONG_SECONDS:-60}; METHOD=raft
fi
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
LOG=${OUT:+$OUT/device_e2e.log}
exec > >(tee "${LOG:-/dev/null}") 2>&1

# -- what is missing here comes from the bundle ---------------------------------------------
missing=$("$PYTHON" -c '
import importlib.util
print(" ".join(m for m in ("snakemake", "ffmpeg", "imageio_ffmpeg", "yaml", "cv2", "torchvision", "tqdm")
               if importlib.util.find_spec(m) is None))')
if [ -n "$missing" ]; then
    if ! ls .device/wheels/*.whl > /dev/null 2>&1; then
        echo "error: python modules missing here: $missing; run 'bash benchmarks/device_e2e.sh --prepare' on a" \
             "machine with PyPI and bring .device/ along (device tool: carry [\".device\"])"
        exit 1
    fi
    echo "installing from .device/wheels (missing: $missing)"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SCRATCH/site" \
        .device/wheels/*.whl
    export PYTHONPATH=$SCRATCH/site:$PYTHONPATH
fi
if [ -f .device/ffmpeg.xz ]; then
    # the bundled ffmpeg also on a CPU machine, so the --cpu run checks the binary the GPU run uses
    mkdir -p "$SCRATCH/bin"
    "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
        .device/ffmpeg.xz "$SCRATCH/bin/ffmpeg"
    chmod +x "$SCRATCH/bin/ffmpeg"
    export IMAGEIO_FFMPEG_EXE=$SCRATCH/bin/ffmpeg PATH=$SCRATCH/bin:$PATH
fi
FFMPEG=$("$PYTHON" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())') || {
    echo "error: no ffmpeg: run --prepare to bundle one in .device/ffmpeg.xz, or pip install imageio-ffmpeg"; exit 1; }

# -- data: ../shared where it is, else the bundle's copies -----------------------------------
SHARED=${SSTSAL_SHARED:-$(cd .. && pwd)/shared}
CLIP=${E2E_CLIP:-$SHARED/videos/testRoom1_1920Mono.mp4}
[ -f "$CLIP" ] || CLIP=.device/videos/testRoom1_1920Mono.mp4
MODELS=${SSTSAL_MODELS:-$SHARED/models}
[ -f "$MODELS/SST_Sal.pth" ] || MODELS=$REPO/.device/models
for need in "$CLIP" "$MODELS/SST_Sal.pth"; do
    [ -f "$need" ] || { echo "error: $need is missing: set SSTSAL_SHARED, or run --prepare and carry .device"; exit 1; }
done
export SSTSAL_MODELS=$(cd "$MODELS" && pwd)
CLIP=$(cd "$(dirname "$CLIP")" && pwd)/$(basename "$CLIP")

# -- what a reader needs to judge the numbers -------------------------------------------------
echo "== device_e2e ($MODE) $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$MODE" = cuda ]; then
    nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version --format=csv,noheader || {
        echo "error: nvidia-smi finds no GPU: use --cpu on a machine without one"; exit 1; }
fi
"$PYTHON" - "$MODE" <<'EOF'
import os, platform, sys
import cv2, numpy, snakemake, torch, torchvision
print(f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"numpy {numpy.__version__}, opencv {cv2.__version__}, snakemake {snakemake.__version__}, cpus {os.cpu_count()}")
if sys.argv[1] == "cuda":
    assert torch.cuda.is_available(), "torch sees no CUDA device"
    p = torch.cuda.get_device_properties(0)
    print(f"torch: {torch.cuda.device_count()} CUDA device(s), {p.name}, {p.total_memory / 2**30:.0f} GiB, "
          f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
EOF
"$FFMPEG" -version | head -1

# -- inputs: the clip, a longer one, RAFT weights -------------------------------------------
mkdir -p "$SCRATCH/short" "$SCRATCH/long"
ln -s "$CLIP" "$SCRATCH/short/$(basename "$CLIP")"
"$FFMPEG" -v error -stream_loop -1 -i "$CLIP" -an -c copy -t "$LONG_SECONDS" "$SCRATCH/long/long${LONG_SECONDS}s.mp4"
echo "clips: $(basename "$CLIP") and long${LONG_SECONDS}s.mp4 (the same, looped to ${LONG_SECONDS} s)"
RAFT_ARGS=()
if [ "$METHOD" = raft ]; then
    "$PYTHON" -c '
import sys, torch
from torchvision.models.optical_flow import raft_large
torch.manual_seed(0)
torch.save(raft_large(weights=None).state_dict(), sys.argv[1])' "$SCRATCH/raft-random.pth"
    echo "RAFT weights: random (torchvision raft_large, seed 0); speed does not depend on them, the flow is meaningless"
    RAFT_ARGS=(--raft-checkpoint "$SCRATCH/raft-random.pth")
fi

# -- the runs, cheapest first ----------------------------------------------------------------
summary=()
for clip in short long; do
    for width in $WIDTHS; do
        left=$(( BUDGET_S - ($(date +%s) - START) ))
        label="$clip clip, flow $METHOD at $width"
        if [ "$left" -lt 30 ]; then
            summary+=("$label: skipped, the ${BUDGET_S} s budget is spent"); continue
        fi
        echo; echo "== $label ($left s of the budget left)"
        if out=$("$PYTHON" benchmarks/bench_e2e.py --videos "$SCRATCH/$clip" --device "$MODE" --flow-method "$METHOD" \
                --flow-width "$width" "${RAFT_ARGS[@]}" --cores all --time-limit "$left" 2>&1); then
            echo "$out"; summary+=("$label: $(echo "$out" | tail -1)")
        else
            echo "$out"; summary+=("$label: failed or stopped: $(echo "$out" | tail -1)")
        fi
    done
done
echo; echo "== summary ($MODE, $(( $(date +%s) - START )) s in all)"
printf '%s\n' "${summary[@]}"
