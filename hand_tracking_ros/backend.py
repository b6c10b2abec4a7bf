"""The one module that owns onnxruntime: device selection, sessions and batched inference.

``device`` is one of ``auto``, ``tensorrt``, ``cuda``, ``cpu``. ``auto`` takes the first of TensorRT, CUDA
and CPU that really works here: onnxruntime-gpu lists the TensorRT and CUDA providers even where their
libraries are missing and then quietly runs on the CPU, so a provider counts only if the session it
created reports it as active. Asking for ``cuda`` or ``tensorrt`` where it does not work raises
ProviderUnavailableError instead of falling back. Works with either the ``onnxruntime`` or the
``onnxruntime-gpu`` wheel.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .models import ModelFileError

LOGGER = logging.getLogger("hand_tracking_ros")

DEVICES = ("auto", "tensorrt", "cuda", "cpu")
# Provider chains per device: onnxruntime runs each node on the first provider of the chain that supports
# it, so TensorRT and CUDA keep the CPU behind them for the odd unsupported node.
PROVIDER_CHAINS = {
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "cpu": ("CPUExecutionProvider",),
}
TENSORRT_CACHE_ENV = "HAND_TRACKING_TENSORRT_CACHE"
MAX_BATCH = 64  # largest batch the TensorRT optimisation profile is built for
# threads=0 on the CPU: each run is single-threaded and a batch of several crops or images is split into
# this many (at most one per core) single-threaded runs side by side. More does not pay: a frame rarely
# has more than a few hands.
MAX_BATCH_WORKERS = 4


class ProviderUnavailableError(RuntimeError):
    """The requested inference device cannot run here."""


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:
        raise ProviderUnavailableError(
            "onnxruntime is not installed. Install one of: `pip install onnxruntime` (CPU) or "
            "`pip install onnxruntime-gpu` (NVIDIA CUDA / TensorRT), not both.") from error
    return onnxruntime


def available_providers() -> list[str]:
    return list(import_onnxruntime().get_available_providers())


def check_device(device: str) -> str:
    canonical = str(device).strip().lower()
    if canonical not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    return canonical


def tensorrt_cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hand_tracking_ros" / "tensorrt"
    return Path(os.environ.get(TENSORRT_CACHE_ENV, default))


def provider_options(provider: str, input_name: str, input_shape: tuple[int, ...]) -> dict:
    if provider == "TensorrtExecutionProvider":
        cache = tensorrt_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        shape = "x".join(str(size) for size in input_shape)
        return {
            # Building an engine takes tens of seconds; the cache makes restarts fast.
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(cache),
            # One engine for every batch size from one crop to MAX_BATCH crops.
            "trt_profile_min_shapes": f"{input_name}:1x{shape}",
            "trt_profile_opt_shapes": f"{input_name}:8x{shape}",
            "trt_profile_max_shapes": f"{input_name}:{MAX_BATCH}x{shape}",
        }
    if provider == "CUDAExecutionProvider":
        return {"cudnn_conv_algo_search": "DEFAULT"}
    return {}


def batch_workers(threads: int) -> int:
    """Single-threaded runs side by side for a batch on the CPU: one per core (at most MAX_BATCH_WORKERS)
    for ``threads=0``, none for an explicit intra-op thread count."""
    return min(os.cpu_count() or 1, MAX_BATCH_WORKERS) if threads == 0 else 1


class OnnxModel:
    """One ONNX model on one device; ``run(batch)`` takes an NCHW float32 batch and returns the outputs.

    ``threads`` on the CPU: 0 (automatic) runs every inference on one thread, and splits a batch (the hands
    of a frame, the images of several streams) into single-threaded runs side by side, one per core; N > 0
    gives each run a pool of N onnxruntime threads instead. Intra-op threads meet at the end of every
    operator, so a core taken by another process stalls every operator of every run; runs side by side only
    meet once per batch, and a single thread per run costs the least CPU time per frame."""

    def __init__(self, path: Path, model_bytes: bytes, device: str = "auto", threads: int = 0):
        ort = import_onnxruntime()
        device = check_device(device)
        self.path = path
        available = set(ort.get_available_providers())
        candidates = [name for name in ("tensorrt", "cuda", "cpu")
                      if PROVIDER_CHAINS[name][0] in available] if device == "auto" else [device]
        if device != "auto" and PROVIDER_CHAINS[device][0] not in available:
            raise ProviderUnavailableError(
                f"device={device!r} was asked for, but this onnxruntime offers only "
                f"{sorted(available)}. Install the GPU extra: `pip install -e \".[gpu]\"` "
                f"(onnxruntime-gpu below 1.27: CUDA 12 and cuDNN 9) or `[gpu-cuda13]` (1.27 and later: CUDA 13)"
                f"{', and TensorRT 10' if device == 'tensorrt' else ''}, or use device='cpu' or 'auto'.")

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.intra_op_num_threads = threads or 1
        # onnxruntime's pool threads spin between operators by default. On an idle machine that is faster
        # (1.2-1.6x per call, measured earlier), but every operator ends with all pool threads meeting, so
        # when another process holds a core (a robot's other nodes) each operator waits for a thread that is
        # not running while the spinning ones burn the rest. On the project's shared 2-core machine 2
        # spinning threads took 2-3x the time and 2x the CPU time per frame of 2 sleeping ones (README, Speed).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        failures = []
        for candidate in candidates:
            chain = PROVIDER_CHAINS[candidate]
            try:
                probe = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
                model_input = probe.get_inputs()[0]
                input_shape = tuple(model_input.shape[1:])
                session = ort.InferenceSession(
                    model_bytes, sess_options=options,
                    providers=[(name, provider_options(name, model_input.name, input_shape)) for name in chain])
            except Exception as error:  # onnxruntime raises its own untyped errors for bad files and providers
                if candidate == "cpu":
                    raise ModelFileError(f"onnxruntime cannot load {path}: {error}. If the file is damaged, "
                                         "restore it with `git checkout -- models/` or reinstall the package."
                                         ) from error
                failures.append(f"{candidate}: {error}")
                continue
            if session.get_providers()[0] == chain[0]:
                self.device = candidate
                self.session = session
                break
            failures.append(f"{candidate}: onnxruntime fell back to {session.get_providers()[0]} "
                            "(the provider's libraries are missing or do not match)")
        else:
            raise ProviderUnavailableError(
                f"no working execution provider for device={device!r} and model {path.name}: "
                + "; ".join(failures) + ". Use device='cpu' or 'auto', or fix the GPU install.")
        if failures:
            LOGGER.warning("skipped providers for %s: %s", path.name, "; ".join(failures))
        self.provider = self.session.get_providers()[0]
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = tuple(self.session.get_inputs()[0].shape[1:])
        self.output_names = [output.name for output in self.session.get_outputs()]
        self._on_gpu = self.provider != "CPUExecutionProvider"
        # On a GPU the batch goes in whole (and intra_op_num_threads only concerns the odd CPU node).
        self.batch_workers = 1 if self._on_gpu else batch_workers(threads)
        self._batch_pool = (ThreadPoolExecutor(self.batch_workers - 1, thread_name_prefix=f"onnx-{path.stem}")
                            if self.batch_workers > 1 else None)
        LOGGER.info("%s runs on %s", path.name, self.provider)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        if not self._on_gpu:
            if self._batch_pool is None or len(batch) < 2:
                return self._run_cpu(batch)
            # onnxruntime releases the GIL, and a session may run in several threads at once.
            chunks = np.array_split(batch, min(len(batch), self.batch_workers))
            pending = [self._batch_pool.submit(self._run_cpu, chunk) for chunk in chunks[1:]]
            parts = [self._run_cpu(chunks[0])] + [job.result() for job in pending]
            return [np.concatenate(outputs) for outputs in zip(*parts)]
        # I/O binding copies the batch to the GPU once and lets onnxruntime allocate outputs where it wants,
        # instead of the extra host staging copies of session.run.
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(batch))
        for name in self.output_names:
            binding.bind_output(name, "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    def _run_cpu(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: batch})
