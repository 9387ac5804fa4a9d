#!/usr/bin/env bash
# RAFT flow checks on a CUDA device, about 2 minutes on an H100. Prints numbers only.
#   1. the published golden flow on CUDA: fp32 (TF32 off) and mixed precision, |diff| in pixels;
#   2. the memory plan against the device's real free memory (an impossible size is refused);
#   3. pairs/s of plain pair-by-pair torchvision RAFT vs ours at 1024x512 and 2048x1024,
#      fp32 / bf16 / fp16, with peak memory and the mixed-precision flow's difference from fp32.
# Usage: bash benchmarks/device_flow.sh   (PYTHON=... to choose the interpreter; SSTSAL_SHARED=...)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export SSTSAL_SHARED=${SSTSAL_SHARED:-$(cd .. && pwd)/shared}
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true

"$PYTHON" - <<'EOF'
import os, time
from pathlib import Path
import cv2, numpy as np, torch
from sstsal.errors import SstsalError
from sstsal.flow.raft import RaftFlow, load_raft

golden = Path(os.environ["SSTSAL_SHARED"]) / "fixtures" / "raft-golden"
model = load_raft(golden / "raft-random-init.pth", device="cuda")
print("== golden flow of the published code, on", torch.cuda.get_device_name())
for case in ("sintel", "room"):
    frames = [np.ascontiguousarray(cv2.imread(str(golden / f"{case}_frame{i}.png"))[:, :, ::-1]) for i in (1, 2)]
    expected = np.load(golden / f"{case}_flow.npy")
    for precision in ("fp32", "bf16", "fp16"):
        (flow,) = RaftFlow(model, device="cuda", precision=precision, horizontal="replicate").pairs(frames)
        d = np.abs(flow - expected)
        print(f"{case:>7} {precision}: max|diff| {d.max():.2e} px, mean {d.mean():.2e} px (needs < 1e-3 for fp32)")

print("== memory plan on this device")
free, total = torch.cuda.mem_get_info()
print(f"free {free / 2**30:.1f} of {total / 2**30:.1f} GiB")
for width in (1024, 2048, 4096):
    try:
        plan = RaftFlow(model, device="cuda").prepare(width // 2, width)
        print(f"{width}x{width // 2}: {plan.per_pair / 2**30:.2f} GiB per pair -> batch {plan.batch_size}")
    except SstsalError as exc:
        print(f"{width}x{width // 2} refused:", exc)
try:
    RaftFlow(model, device="cuda").prepare(4096, 8192)
    print("8192x4096: NOT refused")
except SstsalError as exc:
    print("8192x4096 refused:", exc)
EOF

echo "== speed: plain torchvision RAFT pair by pair vs ours (same run)"
"$PYTHON" benchmarks/bench_flow.py --device cuda --sizes 1024x512 2048x1024 --pairs 8 --repeat 2 \
    --precision fp32 bf16 fp16
