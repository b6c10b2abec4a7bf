"""Real-time multi-hand tracking (MediaPipe Hands on onnxruntime) for robots, with a ROS 2 node.

The core (this package minus ``node``) needs only numpy, OpenCV and onnxruntime; it never imports rclpy.
"""

# In a sourced ROS 2 workspace the generated `msg` subpackage lives in the installed copy of this package;
# extending the path lets a source checkout that comes first on sys.path (pytest in the repo) find it too.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from .tracker import HandTracker  # noqa: E402
from .types import HAND_CONNECTIONS, LANDMARK_NAMES, Hand, RotatedRect  # noqa: E402

__version__ = "0.1.0"
__all__ = ["HandTracker", "Hand", "RotatedRect", "HAND_CONNECTIONS", "LANDMARK_NAMES", "__version__"]
