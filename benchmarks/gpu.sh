#!/usr/bin/env bash
# GPU figures for the README, on a machine with an NVIDIA GPU and no network: installs this package and
# onnxruntime-gpu (and TensorRT, if its wheels are there) into a fresh virtual environment from the wheels
# brought along, then runs benchmarks/streams.py on CUDA and on TensorRT for 1, 2, 8 and 32 streams and
# benchmarks/speed.py on CUDA, and writes everything to one file.
#
#   benchmarks/gpu.sh [WHEELS_DIR] [OUTPUT]      # from the repository root, ../shared/data beside it
#
# WHEELS_DIR (default: wheels): prepare it on a machine with network, for the GPU machine's CUDA
# (nvidia-smi, "CUDA Version"; [gpu] is onnxruntime-gpu 1.19-1.26 for CUDA 12, [gpu-cuda13] 1.27+):
#   pip download -d wheels ".[gpu,parity]" tensorrt-cu12 "nvidia-cudnn-cu12>=9,<10" nvidia-cuda-runtime-cu12 \
#       nvidia-cublas-cu12 nvidia-cufft-cu12 nvidia-curand-cu12 nvidia-cuda-nvrtc-cu12
# (for CUDA 13: ".[gpu-cuda13,parity]" and the -cu13 packages). Leave out the nvidia-* and tensorrt
# packages where CUDA, cuDNN and TensorRT are installed system-wide. OUTPUT default: gpu_results.txt.
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
fi

WHEELS=$(realpath "${1:-wheels}")
OUTPUT=$(realpath "${2:-gpu_results.txt}")
VENV=${GPU_VENV:-.gpu-venv}
cd "$(dirname "$0")/.."

if ls "$WHEELS"/onnxruntime_gpu-1.2[7-9]*.whl "$WHEELS"/onnxruntime_gpu-1.[3-9]*.whl >/dev/null 2>&1; then
    EXTRA=gpu-cuda13
else
    EXTRA=gpu
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" -e ".[$EXTRA,parity]"
# Whatever else was brought along (TensorRT, CUDA and cuDNN from pip): nothing is fetched.
extra_wheels=$(ls "$WHEELS" | grep -E '^(tensorrt|nvidia_)' | sed "s|^|$WHEELS/|" || true)
if [ -n "$extra_wheels" ]; then
    # shellcheck disable=SC2086  # one argument per wheel
    "$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" $extra_wheels
fi

# onnxruntime-gpu opens the CUDA, cuDNN and TensorRT libraries by name (dlopen), so libraries that came
# from pip must be on LD_LIBRARY_PATH before the process starts: pip puts them into site-packages
# (nvidia/*/lib, tensorrt_libs), where nothing looks for them. Without this TensorRT and CUDA "work" in
# onnxruntime's provider list and the sessions quietly fall back to the CPU (backend.py then refuses the
# device). onnxruntime.preload_dlls() does the same for CUDA and cuDNN, not for TensorRT.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PIP_LIBS=$(find "$SITE/nvidia" "$SITE/tensorrt_libs" -maxdepth 3 -name '*.so*' -printf '%h\n' 2>/dev/null | sort -u |
           paste -sd: - || true)
export LD_LIBRARY_PATH="${PIP_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export HAND_TRACKING_TENSORRT_CACHE=${HAND_TRACKING_TENSORRT_CACHE:-$PWD/.tensorrt-cache}

PY="$VENV/bin/python"
{
    echo "# benchmarks/gpu.sh, $(date -u +%Y-%m-%dT%H:%MZ), [$EXTRA]"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    nvidia-smi | grep -o 'CUDA Version: [0-9.]*' || true
    "$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())'
    "$PY" -c 'import tensorrt; print("tensorrt", tensorrt.__version__)' 2>/dev/null || echo "tensorrt: not installed"
    for device in cuda tensorrt; do
        echo
        echo "## streams.py --device $device (640x480, two hands per stream; the first TensorRT run builds engines)"
        "$PY" benchmarks/streams.py --device "$device" --streams 1 2 8 32 --cycles 100 2>&1 ||
            echo "streams.py --device $device failed (see above)"
    done
    for device in cuda tensorrt; do
        echo
        echo "## speed.py, in-process API, our pipeline on --device $device (MediaPipe on the CPU)"
        "$PY" benchmarks/speed.py --runners api --loads idle --ours-flags "--device $device" 2>&1 ||
            echo "speed.py --device $device failed (see above)"
    done
} | tee "$OUTPUT"
echo "written: $OUTPUT"
