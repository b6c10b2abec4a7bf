"""Execution provider selection. The GPU paths run against a fake onnxruntime-gpu (named so below),
because no GPU exists here: it wraps the real CPU onnxruntime and only pretends about providers."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from hand_tracking_ros import backend
from hand_tracking_ros.backend import OnnxModel, ProviderUnavailableError, check_device
from hand_tracking_ros.models import load_model_bytes

GPU_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


class FakeGpuOnnxRuntime:
    """Stands in for the onnxruntime-gpu wheel: lists the GPU providers; ``working`` says which of them
    really start (the others fall back to the CPU, as onnxruntime-gpu does when CUDA libraries are missing)."""

    def __init__(self, working: set[str]):
        self.working = working
        self.requested_options = {}
        self.SessionOptions = onnxruntime.SessionOptions
        self.GraphOptimizationLevel = onnxruntime.GraphOptimizationLevel

    def get_available_providers(self):
        return list(GPU_PROVIDERS)

    def InferenceSession(self, model, sess_options=None, providers=()):  # noqa: N802 (onnxruntime's name)
        session = onnxruntime.InferenceSession(model, sess_options=sess_options, providers=["CPUExecutionProvider"])
        names = [provider[0] if isinstance(provider, tuple) else provider for provider in providers]
        for provider in providers:
            if isinstance(provider, tuple):
                self.requested_options[provider[0]] = provider[1]
        active = [name for name in names if name in self.working or name == "CPUExecutionProvider"]
        session.get_providers = lambda: active
        return session


def palm_model(device):
    return OnnxModel(*load_model_bytes("palm_detection_lite.onnx"), device=device)


def test_auto_runs_on_cpu_with_the_cpu_wheel():
    assert palm_model("auto").provider == "CPUExecutionProvider"


@pytest.mark.parametrize("device", ["cuda", "tensorrt"])
def test_asking_for_absent_gpu_is_an_error_not_a_fallback(device, monkeypatch):
    monkeypatch.setattr(backend, "import_onnxruntime", lambda: onnxruntime)
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(ProviderUnavailableError, match=f"device='{device}'.*onnxruntime-gpu"):
        palm_model(device)


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="auto, tensorrt, cuda, cpu"):
        check_device("gpu0")


def test_auto_skips_gpu_providers_that_fall_back(monkeypatch):
    monkeypatch.setattr(backend, "import_onnxruntime", lambda: FakeGpuOnnxRuntime(working=set()))
    # Recorded at the logger call itself: a ROS 2 environment may reconfigure logging handlers.
    warnings = []
    monkeypatch.setattr(backend.LOGGER, "warning", lambda message, *args: warnings.append(message % args))
    model = palm_model("auto")
    assert model.device == "cpu" and model.provider == "CPUExecutionProvider"
    assert "tensorrt: onnxruntime fell back" in warnings[0] and "cuda: onnxruntime fell back" in warnings[0]


def test_explicit_cuda_that_falls_back_is_an_error(monkeypatch):
    monkeypatch.setattr(backend, "import_onnxruntime", lambda: FakeGpuOnnxRuntime(working=set()))
    with pytest.raises(ProviderUnavailableError, match="cuda: onnxruntime fell back to CPUExecutionProvider"):
        palm_model("cuda")


def test_auto_prefers_tensorrt_with_engine_cache_and_dynamic_batch(monkeypatch, tmp_path):
    fake = FakeGpuOnnxRuntime(working={"TensorrtExecutionProvider", "CUDAExecutionProvider"})
    monkeypatch.setattr(backend, "import_onnxruntime", lambda: fake)
    monkeypatch.setenv(backend.TENSORRT_CACHE_ENV, str(tmp_path / "trt"))
    model = palm_model("auto")
    assert model.device == "tensorrt" and model.provider == "TensorrtExecutionProvider"
    options = fake.requested_options["TensorrtExecutionProvider"]
    assert options["trt_engine_cache_enable"] and options["trt_engine_cache_path"] == str(tmp_path / "trt")
    assert (tmp_path / "trt").is_dir()
    assert options["trt_profile_max_shapes"] == f"input:{backend.MAX_BATCH}x3x192x192"
    # The GPU path goes through I/O binding; on the fake it must give what a plain run gives.
    batch = np.random.default_rng(0).random((2, 3, 192, 192), dtype=np.float32)
    for bound, plain in zip(model.run(batch), model.session.run(None, {"input": batch})):
        np.testing.assert_allclose(bound, plain, rtol=1e-6)


@pytest.mark.parametrize("file_name", ["palm_detection_full.onnx", "palm_detection_lite.onnx",
                                       "hand_landmark_full.onnx", "hand_landmark_lite.onnx"])
def test_thread_pools_never_spin(file_name):
    # Spinning pool threads meet at every operator: with another process on one of the cores each operator
    # waits for a thread that is not running, and idle they burn a core after each run. How much that costs
    # depends on the machine and its load, so benchmarks/speed.py (loaded rows) and benchmarks/idle_cpu.py
    # measure it; here, the setting itself.
    session = OnnxModel(*load_model_bytes(file_name), device="cpu", threads=2).session
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_automatic_threads_split_a_batch_into_single_threaded_runs_with_the_same_outputs():
    # threads=0: one onnxruntime thread per run, a batch split into runs side by side (one per core, at
    # most MAX_BATCH_WORKERS); the outputs are those of one run over the whole batch.
    automatic = OnnxModel(*load_model_bytes("hand_landmark_full.onnx"), device="cpu")
    assert automatic.session.get_session_options().intra_op_num_threads == 1
    assert automatic.batch_workers == backend.batch_workers(0) >= 1
    batch = np.random.default_rng(0).random((3, 3, 224, 224), dtype=np.float32)
    whole = automatic.session.run(None, {"input": batch})
    for split, plain in zip(automatic.run(batch), whole):
        np.testing.assert_allclose(split, plain, rtol=1e-5, atol=1e-6)
    explicit = OnnxModel(*load_model_bytes("hand_landmark_full.onnx"), device="cpu", threads=2)
    assert explicit.batch_workers == 1
    assert explicit.session.get_session_options().intra_op_num_threads == 2


def test_one_worker_per_core_at_most_four(monkeypatch):
    for cores, workers in ((1, 1), (2, 2), (16, backend.MAX_BATCH_WORKERS)):
        monkeypatch.setattr(backend.os, "cpu_count", lambda cores=cores: cores)
        assert backend.batch_workers(0) == workers
    assert backend.batch_workers(3) == 1
