"""Loading a HandTracker's models: the palm detector and the landmark model for the model options
(``model_complexity``, ``device``, ``threads``, ``models_dir``; ``options.MODEL_OPTIONS``).

Kept apart from the tracker so that ``HandTracker.update`` loads models only when one of those options
changes, and loads them before it touches the running tracker: a model that fails to load changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend import OnnxModel
from .detector import PalmDetector
from .landmarks import LandmarkModel
from .models import HAND_LANDMARK, PALM_DETECTION, load_model_bytes
from .options import TrackerOptions


@dataclass(frozen=True)
class HandModels:
    """The two models of a tracker, ready to run."""

    detector: PalmDetector
    landmark_model: LandmarkModel

    @property
    def execution_provider(self) -> str:
        """The onnxruntime provider the landmark model runs on (both run on the same device)."""
        return self.landmark_model.model.provider


def load_models(options: TrackerOptions) -> HandModels:
    """Load and check the models for ``options``' model options (ModelFileError, ProviderUnavailableError)."""
    models_dir = options.models_dir or None  # "": search the installed models
    palm = OnnxModel(*load_model_bytes(PALM_DETECTION[options.model_complexity], models_dir), options.device,
                     options.threads)
    landmarks = OnnxModel(*load_model_bytes(HAND_LANDMARK[options.model_complexity], models_dir),
                          options.device, options.threads)
    return HandModels(PalmDetector(palm), LandmarkModel(landmarks, crop_threads=options.threads))
