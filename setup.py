"""pip packaging of the ROS-free library and the `hand-tracking` CLI.

The ROS 2 build (colcon, ament_cmake) does not use this file: CMakeLists.txt installs the same Python
package next to the generated messages. Pick the onnxruntime flavour with an extra:
`pip install -e ".[cpu]"`, `".[gpu]"` (CUDA 12) or `".[gpu-cuda13]"` (never two of them in one environment).
Tests: `pip install -e ".[cpu,test]"`; add `parity` for the comparisons with MediaPipe and TFLite.
"""

from glob import glob

from setuptools import setup

setup(
    name="hand_tracking_ros",
    version="0.1.0",
    description="Real-time multi-hand tracking (MediaPipe Hands on onnxruntime) with a ROS 2 node",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["hand_tracking_ros"],
    install_requires=["numpy>=1.21", "opencv-python-headless>=4.5", "tqdm"],
    extras_require={
        "cpu": ["onnxruntime>=1.16"],
        # onnxruntime-gpu from PyPI is built for one CUDA major: 1.19 to 1.26 for CUDA 12 (and cuDNN 9), 1.27 and
        # later for CUDA 13. Each extra says which one it gets (README, GPU).
        "gpu": ["onnxruntime-gpu>=1.19,<1.27"],
        "gpu-cuda13": ["onnxruntime-gpu>=1.27"],
        "bag": ["rosbags>=0.11.7"],
        "scale": ["ray>=2.9"],  # `hand-tracking batch` (hand_tracking_ros/batch.py): only that command imports it
        # What the tests need, on every supported Python, without touching the numpy and OpenCV in place.
        "test": [
            "pytest>=7",
            "rosbags>=0.11.7",
            "ruamel.yaml",
        ],
        # The reference implementation and a TFLite interpreter, for the parity tests and benchmarks only
        # (they skip without them). Heavy: about 1.2 GB, NumPy 1 and opencv-contrib-python come with
        # mediapipe. Installed only where wheels exist, so that the extra never fails elsewhere:
        # mediapipe 0.10.21 has wheels for Python 3.10-3.12, tflite-runtime 2.14.0 for 3.10-3.11 on Linux
        # only; on 3.12 its successor ai-edge-litert (Linux wheels) runs the same .tflite files.
        "parity": [
            'mediapipe==0.10.21; python_version < "3.13"',
            'tflite-runtime==2.14.0; python_version < "3.12" and sys_platform == "linux"',
            'ai-edge-litert==2.3.0; python_version == "3.12" and sys_platform == "linux"',
        ],
    },
    data_files=[
        ("share/hand_tracking_ros/models", sorted(glob("models/*.onnx")) + ["models/SHA256SUMS"]),
        ("share/hand_tracking_ros/msg", sorted(glob("msg/*.msg"))),
    ],
    entry_points={"console_scripts": ["hand-tracking = hand_tracking_ros.cli:main"]},
)
