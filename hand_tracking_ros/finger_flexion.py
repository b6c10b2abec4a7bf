"""Finger joint flexion angles from the metric world landmarks, for retargeting to robot hands.

Fifteen angles in radians, 0 for a straight joint, in the order of ``FLEXION_JOINTS`` (the constants
``FLEXION_*`` of msg/HandLandmarks.msg): the thumb's CMC, MCP and IP joints, then the MCP, PIP and DIP
joints of the index, middle, ring and little fingers.

Each angle is the bend between the bone entering a joint and the bone leaving it (the thumb's CMC joint
enters from the wrist, the fingers' MCP joints from the wrist through their metacarpal). The fingers' MCP
joints also swing sideways (abduction, spreading the fingers); only their flexion counts: the proximal
bone's angle out of the plane of the palm through the metacarpal, as for a joint that swings sideways
first and then curls. The angles are magnitudes: hyperextension (bending backwards) also reads positive;
it is small in real hands (a few degrees at the MCP joints). A joint with a zero-length bone reads 0.

World landmarks rather than image landmarks: they are metric and 3D, so the angles do not depend on the
hand's distance, size or perspective (a finger pointing at the camera bends as much as one seen side-on).
"""

from __future__ import annotations

import numpy as np

FLEXION_JOINTS = (
    "thumb_cmc", "thumb_mcp", "thumb_ip",
    "index_mcp", "index_pip", "index_dip",
    "middle_mcp", "middle_pip", "middle_dip",
    "ring_mcp", "ring_pip", "ring_dip",
    "pinky_mcp", "pinky_pip", "pinky_dip",
)
NUM_FLEXION_JOINTS = len(FLEXION_JOINTS)

# Per flexion joint: the landmarks before it, at it and after it (the two bones meeting at the joint).
_JOINT_TRIPLES = np.array([
    (0, 1, 2), (1, 2, 3), (2, 3, 4),
    (0, 5, 6), (5, 6, 7), (6, 7, 8),
    (0, 9, 10), (9, 10, 11), (10, 11, 12),
    (0, 13, 14), (13, 14, 15), (14, 15, 16),
    (0, 17, 18), (17, 18, 19), (18, 19, 20),
])
# The fingers' MCP joints, whose abduction is projected out.
_FINGER_MCP_ROWS = np.array([3, 6, 9, 12])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 1e-12)


def finger_flexion(world_landmarks: np.ndarray) -> np.ndarray:
    """Flexion angles (radians, order ``FLEXION_JOINTS``), shape (..., 15), of world landmarks (..., 21, 3)."""
    points = np.asarray(world_landmarks, np.float64)
    if points.shape[-2:] != (21, 3):
        raise ValueError(f"expected world landmarks of shape (..., 21, 3), got {points.shape}")
    before, at, after = (points[..., _JOINT_TRIPLES[:, i], :] for i in range(3))  # (..., 15, 3) each
    incoming, outgoing = _unit(at - before), _unit(after - at)
    # The bend between the bones; atan2 keeps its precision near 0 and 180 degrees, where arccos loses it.
    angles = np.arctan2(np.linalg.norm(np.cross(incoming, outgoing), axis=-1), np.sum(incoming * outgoing, -1))
    # The fingers' MCP joints: the proximal bone in the frame of the metacarpal (m), the palm's normal (n,
    # from the wrist, index and little-finger knuckles; its sign does not matter) and the sideways axis (u):
    # flexion is its angle out of the m-u plane, whatever the sideways swing (abduction) before it.
    wrist, index_mcp, pinky_mcp = points[..., 0, :], points[..., 5, :], points[..., 17, :]
    normal = _unit(np.cross(index_mcp - wrist, pinky_mcp - wrist))[..., None, :]
    metacarpals, proximal = incoming[..., _FINGER_MCP_ROWS, :], outgoing[..., _FINGER_MCP_ROWS, :]
    normal = _unit(normal - np.sum(normal * metacarpals, -1, keepdims=True) * metacarpals)
    along = np.sum(proximal * metacarpals, -1)
    out_of_palm = np.abs(np.sum(proximal * normal, -1))
    in_palm = np.sqrt(np.maximum(1.0 - out_of_palm ** 2, 0.0))  # the proximal bone is a unit vector
    angles[..., _FINGER_MCP_ROWS] = np.arctan2(out_of_palm, np.copysign(in_palm, along))
    # A zero-length bone has no direction: no bend.
    degenerate = ~(np.any(incoming != 0, -1) & np.any(outgoing != 0, -1))
    return np.where(degenerate, 0.0, angles)
