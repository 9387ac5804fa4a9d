"""Directions on the sphere: yaw/pitch in degrees, unit vectors, equirectangular pixels.

Unit vectors use ``x`` to the right, ``y`` up and ``z`` towards the image centre, so
``yaw = atan2(x, z)`` and ``pitch = asin(y)``; pixel ``(row, col)`` of an ``H x W``
equirectangular image has its centre at ``yaw = (col + 0.5) / W * 360 - 180`` and
``pitch = 90 - (row + 0.5) / H * 180``.
"""

from __future__ import annotations

import numpy as np


def to_vectors(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """``(N,)`` yaw and pitch in degrees -> ``(N, 3)`` unit vectors."""
    yaw = np.radians(np.asarray(yaw_deg, dtype=np.float64))
    pitch = np.radians(np.asarray(pitch_deg, dtype=np.float64))
    yaw, pitch = np.broadcast_arrays(yaw, pitch)
    return np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)], axis=-1)


def to_angles(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3)`` vectors (any length) -> yaw in [-180, 180) and pitch in [-90, 90], degrees."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    yaw = np.degrees(np.arctan2(v[..., 0], v[..., 2]))
    yaw = (yaw + 180.0) % 360.0 - 180.0
    pitch = np.degrees(np.arcsin(np.clip(v[..., 1], -1.0, 1.0)))
    return yaw, pitch


def angular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle angle in radians between unit vectors ``a`` and ``b`` (broadcast over ``...x3``).

    ``atan2(|a x b|, a . b)`` rather than ``acos(a . b)``: accurate also for the tiny angles
    between consecutive gaze samples, where ``acos`` loses half its digits.
    """
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, np.sum(a * b, axis=-1))


def pixel_vectors(height: int, width: int) -> np.ndarray:
    """Unit vectors of the pixel centres of an ``H x W`` equirectangular image: ``(H, W, 3)``."""
    yaw = (np.arange(width) + 0.5) / width * 360.0 - 180.0
    pitch = 90.0 - (np.arange(height) + 0.5) / height * 180.0
    return to_vectors(yaw[None, :], pitch[:, None])


def normalised_to_angles(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image fractions (``u`` from the left edge, ``v`` from the top edge, both in [0, 1]) -> yaw, pitch."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return (u % 1.0) * 360.0 - 180.0, 90.0 - v * 180.0


def angles_to_normalised(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`normalised_to_angles`: ``u`` in [0, 1), ``v`` in [0, 1]."""
    u = ((np.asarray(yaw_deg, dtype=np.float64) + 180.0) % 360.0) / 360.0
    v = (90.0 - np.asarray(pitch_deg, dtype=np.float64)) / 180.0
    return u, v


def euler_yxz_matrices(pitch_deg: np.ndarray, yaw_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """Head rotations from Euler angles as game engines (Unity) report them: ``(N, 3, 3)``.

    Unity applies roll about z, then pitch about x, then yaw about y: ``R = Ry Rx Rz``, in its
    left-handed frame (x right, y up, z forward), where a positive pitch looks down and a
    positive yaw turns right.
    """
    x, y, z = (np.radians(np.asarray(a, dtype=np.float64)) for a in (pitch_deg, yaw_deg, roll_deg))
    one, zero = np.ones_like(x), np.zeros_like(x)
    rx = np.stack([one, zero, zero, zero, np.cos(x), -np.sin(x), zero, np.sin(x), np.cos(x)], -1).reshape(-1, 3, 3)
    ry = np.stack([np.cos(y), zero, np.sin(y), zero, one, zero, -np.sin(y), zero, np.cos(y)], -1).reshape(-1, 3, 3)
    rz = np.stack([np.cos(z), -np.sin(z), zero, np.sin(z), np.cos(z), zero, zero, zero, one], -1).reshape(-1, 3, 3)
    return ry @ rx @ rz


def quaternion_matrices(w: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(N, 3, 3)`` of (not necessarily normalised) quaternions ``w + xi + yj + zk``."""
    q = np.stack([np.asarray(c, dtype=np.float64) for c in (w, x, y, z)], axis=-1)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    ).reshape(-1, 3, 3)  # fmt: skip
