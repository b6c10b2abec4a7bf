"""Real-time multi-hand tracking (MediaPipe Hands on onnxruntime) for robots, with a ROS 2 node.

The core (this package minus ``node``) needs only numpy, OpenCV and onnxruntime; it never imports rclpy.
"""

from .tracker import HandTracker
from .types import HAND_CONNECTIONS, LANDMARK_NAMES, Hand, RotatedRect

__version__ = "0.1.0"
__all__ = ["HandTracker", "Hand", "RotatedRect", "HAND_CONNECTIONS", "LANDMARK_NAMES", "__version__"]
