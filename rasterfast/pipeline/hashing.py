"""Keyed hashes of key_id: the order, the shard and the split of every drawing.

A drawing's place in a build depends on its key_id and the seed only, never on
the input file, the number of workers or the scheduler; so shards mix all words,
builds are byte-identical whatever runs them, and the validation split is the
same drawings for every recipe and size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["order_hash", "split_hash", "is_val", "MAX_HASH"]

MAX_HASH = np.iinfo(np.uint64).max

# Distinct salts keep the order hash and the split hash independent.
_ORDER_SALT = np.uint64(0x9E3779B97F4A7C15)
_SPLIT_SALT = np.uint64(0xD1B54A32D192ED03)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on uint64 with good avalanche.

    References
    ----------
    S. Vigna, "splitmix64.c" (public domain), the mixing steps of Stafford's "Mix13".
    """
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _keyed(key_id, seed: int, salt: np.uint64) -> np.ndarray:
    key = np.asarray(key_id, dtype=np.uint64)
    with np.errstate(over="ignore"):
        s = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], np.uint64) + salt)[0]
        return _mix(key ^ s)


def order_hash(key_id, seed: int = 0) -> np.ndarray:
    """The drawing's rank key: builds order drawings by it (ties by key_id)."""
    return _keyed(key_id, seed, _ORDER_SALT)


def split_hash(key_id, seed: int = 0) -> np.ndarray:
    """The hash that decides train or val, independent of :func:`order_hash`."""
    return _keyed(key_id, seed, _SPLIT_SALT)


def is_val(key_id, val_fraction: float, seed: int = 0) -> np.ndarray:
    """Whether each drawing belongs to the validation split (about ``val_fraction`` of them)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    threshold = np.uint64(min(int(val_fraction * 2.0**64), int(MAX_HASH)))
    return split_hash(key_id, seed) < threshold
