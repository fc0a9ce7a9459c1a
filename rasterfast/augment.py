"""Stroke augmentation: :class:`Augment` (what to do) and :func:`augment` (doing it to a batch).

The work is in the Cython kernel ``rasterfast._ext._augment`` (GIL released, no Python
work per drawing); this module validates, hashes ``(seed, epoch, key_id)`` into one
random stream per drawing, and raises the kernel's status codes as the exceptions of
``rasterfast.errors.STATUS_ERRORS``. Augmenting is a function of the drawing, its key_id,
the seed and the epoch only: the same drawing is augmented the same way in any batch,
thread or DataLoader worker.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, fields
from dataclasses import replace as _replace
from numbers import Integral, Real

import numpy as np

from ._config import config_fields
from ._ext import _augment as _kernel
from .batch import COORD_DTYPES, StrokeBatch
from .errors import status_error

__all__ = ["Augment", "augment", "as_augment", "drawing_seeds", "AUGMENT_ID", "AUGMENT_VERSION",
           "AUGMENT_PRESETS"]

AUGMENT_ID = "rasterfast.Augment"
AUGMENT_VERSION = 1

#: field -> (low, high, unit): the accepted range of each parameter (both ends included).
_RANGES = {
    "scale": (0.0, 0.9, "fraction: each axis scaled by 1 + U(-scale, scale)"),
    "rotation": (0.0, 180.0, "degrees: rotated by U(-rotation, rotation)"),
    "shear": (0.0, 1.0, "x += U(-shear, shear) * y"),
    "translate": (0.0, 0.5, "fraction of the frame: shifted by U(-t, t) * 255 per axis"),
    "flip": (0.0, 1.0, "probability of a horizontal flip"),
    "jitter": (0.0, 16.0, "256-px units: bell-shaped noise per coordinate, this deviation"),
    "point_drop": (0.0, 1.0, "probability of dropping each interior point"),
    "stroke_drop": (0.0, 1.0, "probability of dropping each stroke (never all)"),
    "keep_first": (0.0, 1.0, "probability of keeping only the first k strokes"),
    "keep_first_min": (0.0, 1.0, "fraction: k is at least ceil(keep_first_min * strokes)"),
    "epsilon": (0.0, 32.0, "256-px units: RDP at epsilon U(0, epsilon)"),
    "time_warp": (0.0, 4.0, "durations and pauses times (1 + w) ** U(-1, 1); timed drawings"),
}

#: name -> (description, fields): the named configs (``Augment.preset``).
AUGMENT_PRESETS = {
    "default": ("safe for doodles: sketch-rnn's random scale 0.15 and point drop 0.10, the "
                "last strokes dropped from 10% of drawings (24th place); no flip or rotation "
                "(they hurt at 21st place)", {}),
    "none": ("no change (every drawing as stored)",
             {"scale": 0.0, "point_drop": 0.0, "keep_first": 0.0}),
}

_SEED_SALT = np.uint64(0x2545F4914F6CDD1D)
_EPOCH_SALT = np.uint64(0x9FB21C651E98DF25)


@dataclass(frozen=True, eq=False)
class Augment:
    """Random stroke augmentation, applied to points before rendering; a frozen value.

    Every field defaults to the value of the ``"default"`` preset, chosen to be safe
    for doodles from what the Quick, Draw! community measured (see Notes);
    ``Augment.preset("none")`` changes nothing. Each drawing's random numbers
    come from a hash of ``(seed, epoch, key_id)`` (:func:`augment`).

    Parameters
    ----------
    scale : float
        Each axis scaled by ``1 + U(-scale, scale)``, independently (sketch-rnn's
        "random scale factor"); 0-0.9. Default 0.15.
    rotation : float
        Degrees, ``U(-rotation, rotation)`` about the frame's centre; 0-180. Default 0.
    shear : float
        ``x += U(-shear, shear) * y`` (before the rotation); 0-1. Default 0.
    translate : float
        Shift per axis of ``U(-translate, translate) * 255``; 0-0.5. Default 0.
    flip : float
        Probability of a horizontal flip; 0-1. Default 0.
    jitter : float
        Standard deviation of the noise added to each coordinate of every point,
        256-px units; 0-16. Default 0. The noise is bell-shaped (the Irwin-Hall sum
        of four uniforms, bounded by 3.46 standard deviations), not exactly Gaussian:
        a fifth of the cost of Box-Muller.
    point_drop : float
        Probability of dropping each point that is not a stroke's first or last
        (sketch-rnn's augmentation); 0-1. Default 0.10.
    stroke_drop : float
        Probability of dropping each stroke; a drawing never loses all (one of
        its strokes is then kept, uniformly); 0-1. Default 0.
    keep_first : float
        Probability of keeping only the first ``k`` strokes of a drawing of
        ``S >= 2`` strokes, ``k`` uniform in ``[ceil(keep_first_min * S), S - 1]``
        (at least 1); 0-1. Default 0.10.
    keep_first_min : float
        The smallest fraction of strokes ``keep_first`` keeps; 0-1. Default 0.5.
    epsilon : float
        Re-simplify every stroke with Ramer-Douglas-Peucker at a tolerance
        ``U(0, epsilon)`` in 256-px units (raw drawings: units of their box's
        longer side / 255); 0-32. Default 0 (off).
    time_warp : float
        For drawings with times: each stroke's duration and the pause before it
        multiplied by independent factors ``(1 + time_warp) ** U(-1, 1)``; the
        first stroke keeps its start time; 0-4. Default 0. Asking for it on a
        batch without times is an error.

    Raises
    ------
    TypeError
        A value that is not a real number.
    ValueError
        A value outside its range (the message names the field and the range).

    See Also
    --------
    augment : applies an Augment to a StrokeBatch.
    rasterfast.StrokeDataset : ``augment=`` applies it to every batch.

    Notes
    -----
    Order of the steps (one kernel pass): keep the first k strokes, drop strokes,
    drop points, the affine (flip, scale, shear, rotation about the centre, then
    translation) plus jitter, fit into the frame (simplified drawings), RDP, and
    the time warp.

    Simplified drawings (int16 in the 0-255 frame) are **fitted back, never
    clipped**: a drawing that leaves the frame is shifted inside, and one wider or
    taller than 255 is first shrunk about its centre, keeping its shape, so no ink
    is lost and every coordinate is a valid 0-255 integer. As Google's simplified
    drawings already span 0-255 on their longer side, a scale-up or a translation
    along that side is undone by the fit; aspect changes, shrinking, rotation,
    shear and shifts along the shorter side remain. Raw drawings (float32) are
    transformed about their box centre and not fitted; recipes fit them into the
    frame when they are drawn (``geometry="scale"`` or ``"simplify"``), which
    undoes uniform scale and translation but not the rest.

    The default is the basis the issue gives: sketch-rnn (Ha and Eck, 2018)
    trains on these drawings with random scale 0.15 per axis and point dropping
    with probability 0.10; the 24th place of Kaggle's "Quick, Draw! Doodle
    Recognition" dropped the last strokes; the 21st place found horizontal flips
    and rotations hurt accuracy, so both are off.

    References
    ----------
    D. Ha, D. Eck, "A Neural Representation of Sketch Drawings", ICLR 2018
    (``augment_strokes``, ``random_scale_factor``).
    Kaggle "Quick, Draw! Doodle Recognition Challenge" (2018), 21st- and 24th-place
    write-ups.

    Examples
    --------
    >>> a = Augment(rotation=10, stroke_drop=0.1)
    >>> a.scale, a.rotation, a.flip
    (0.15, 10.0, 0.0)
    >>> Augment.from_config(a.get_config()) == a
    True
    >>> Augment.preset("none").is_identity
    True
    >>> Augment(scale=2)
    Traceback (most recent call last):
    ...
    ValueError: Augment scale must be in [0.0, 0.9] (fraction: each axis scaled by 1 + \
U(-scale, scale)), got 2
    """

    scale: float = 0.15
    rotation: float = 0.0
    shear: float = 0.0
    translate: float = 0.0
    flip: float = 0.0
    jitter: float = 0.0
    point_drop: float = 0.10
    stroke_drop: float = 0.0
    keep_first: float = 0.10
    keep_first_min: float = 0.5
    epsilon: float = 0.0
    time_warp: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, Real) or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"Augment {f.name} must be a number, got "
                                f"{type(v).__name__} {v!r}")
            lo, hi, what = _RANGES[f.name]
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"Augment {f.name} must be in [{lo}, {hi}] ({what}), got {v!r}")
            object.__setattr__(self, f.name, float(v))

    # -- what it is -------------------------------------------------------------------------
    @property
    def is_identity(self) -> bool:
        """Whether this config changes no drawing (every field that acts is 0)."""
        return all(getattr(self, f.name) == 0.0 for f in fields(self)
                   if f.name != "keep_first_min")

    def replace(self, **changes) -> Augment:
        """A copy with some fields changed (validated again)."""
        return _replace(self, **changes)

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The config as a JSON-serialisable dict with its ``id`` and ``version``."""
        return {"id": AUGMENT_ID, "version": AUGMENT_VERSION,
                **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_config(cls, config) -> Augment:
        """The Augment of a config from :meth:`get_config` (or its JSON text).

        Fields missing from the config take their defaults.

        Raises
        ------
        TypeError
            ``config`` is not a dict (or JSON text of one).
        ValueError
            Another ``id``, a newer ``version``, an unknown key, or a bad value.
        """
        return cls(**config_fields(cls, config, AUGMENT_ID, AUGMENT_VERSION, "augment"))

    def __eq__(self, other):
        if not isinstance(other, Augment):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self):
        return hash(json.dumps(self.get_config(), sort_keys=True))

    # -- presets --------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides) -> Augment:
        """The named config (:meth:`presets`), with any field overridden.

        Raises
        ------
        ValueError
            An unknown name (the message lists them) or a bad value.
        TypeError
            An override that is not a field.
        """
        if not isinstance(name, str) or name not in AUGMENT_PRESETS:
            raise ValueError(f"unknown augmentation {name!r}; named ones: "
                             f"{', '.join(AUGMENT_PRESETS)}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise TypeError(f"unknown Augment fields {unknown}; valid: {known}")
        return cls(**{**AUGMENT_PRESETS[name][1], **overrides})

    @staticmethod
    def presets() -> dict[str, str]:
        """Preset name -> one-line description."""
        return {name: desc for name, (desc, _) in AUGMENT_PRESETS.items()}

    def _params(self) -> np.ndarray:
        """The kernel's parameter vector (layout in ext/_augment.pyx)."""
        return np.array([self.scale, math.radians(self.rotation), self.shear, self.translate,
                         self.flip, self.jitter, self.point_drop, self.stroke_drop,
                         self.keep_first, self.keep_first_min, self.epsilon, self.time_warp],
                        np.float64)


def as_augment(spec) -> Augment | None:
    """An Augment from ``spec``, or None.

    ``spec`` is an Augment, a preset name, a config dict (``id`` optional) or its JSON
    text, or None (no augmentation).

    Raises
    ------
    TypeError
        Any other kind of object.
    ValueError
        An unknown preset name, an unknown field or a bad value.
    """
    if spec is None or isinstance(spec, Augment):
        return spec
    if isinstance(spec, str) and not spec.lstrip().startswith("{"):
        return Augment.preset(spec)
    if isinstance(spec, (str, bytes)):
        try:
            spec = json.loads(spec)
        except ValueError as err:
            raise ValueError(f"augment config is not valid JSON: {err}") from err
    if isinstance(spec, dict):
        return Augment.from_config({"id": AUGMENT_ID, "version": AUGMENT_VERSION, **spec})
    raise TypeError(f"augment must be a rasterfast.Augment, a preset name "
                    f"({', '.join(AUGMENT_PRESETS)}), a config dict or None, got "
                    f"{type(spec).__name__}")


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (as :mod:`rasterfast.pipeline.hashing`, which imports dask)."""
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


_LOCAL = threading.local()


def _work(points: int, strokes: int):
    """Work arrays of the kernel for ``points`` and ``strokes``, this thread's.

    Kept between calls and grown by doubling, so that batches after the first touch no
    fresh pages; per thread because the kernel runs with the GIL released.
    """
    cap = getattr(_LOCAL, "cap", (-1, -1))
    if points > cap[0] or strokes > cap[1]:
        p = max(points, 2 * cap[0], 4096)
        st = max(strokes, 2 * cap[1], 1024)
        _LOCAL.arrays = (np.empty(p, np.float64), np.empty(p, np.float64),
                         np.empty(p, np.int64), np.empty(p, np.uint8),
                         np.empty(2 * p + 4, np.int64), np.empty(st, np.uint8))
        _LOCAL.cap = (p, st)
    return _LOCAL.arrays


def _check_uint(name, v):
    if isinstance(v, bool) or not isinstance(v, Integral) or not 0 <= v < 2**64:
        raise ValueError(f"{name} must be an int in [0, 2**64), got {v!r}")
    return int(v)


def drawing_seeds(key_ids, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """The random stream of each drawing: a keyed SplitMix64 hash of ``(seed, epoch, key_id)``.

    Returns uint64 ``[N]``. Different seeds, epochs or key_ids give unrelated streams.
    """
    seed = _check_uint("seed", seed)
    epoch = _check_uint("epoch", epoch)
    keys = np.ascontiguousarray(key_ids, dtype=np.uint64).reshape(-1)
    with np.errstate(over="ignore"):
        s = _mix(np.array([seed], np.uint64) ^ _SEED_SALT)
        s = _mix(s ^ _mix(np.array([epoch], np.uint64) + _EPOCH_SALT))
        return _mix(keys ^ s[0])


def augment(batch: StrokeBatch, aug: Augment, *, seed: int = 0, epoch: int = 0,
            key_ids=None) -> StrokeBatch:
    """A new batch of the drawings of ``batch`` augmented as ``aug`` says.

    Parameters
    ----------
    batch : StrokeBatch
        Simplified (int16 0-255) or raw (float32) drawings.
    aug : Augment
        What to do (see :class:`Augment`).
    seed, epoch : int
        With the key_id, the hash that seeds each drawing's random numbers
        (``0 <= value < 2**64``): the same ``(seed, epoch, key_id)`` gives the same
        augmentation in any batch, order, thread or process; another epoch
        another one.
    key_ids : array of uint64, optional
        One per drawing; default ``batch.key_id``. Drawings with equal key_ids
        (e.g. 0, unknown) are augmented alike.

    Returns
    -------
    StrokeBatch
        The same kind and drawings in the same order with every per-drawing
        column; fewer strokes or points where some were dropped. Simplified
        coordinates stay int16 in 0-255 (fitted, never clipped: see
        :class:`Augment`); raw ones float32; times int32.

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch or ``aug`` not an Augment.
    ValueError
        A bad seed, epoch or key_ids, ``time_warp`` on drawings without times, a
        NaN coordinate, broken offsets.

    Examples
    --------
    >>> from rasterfast import StrokeBatch
    >>> b = StrokeBatch.from_lists([[[[10, 60, 120], [20, 80, 20]], [[200], [200]]]],
    ...                            "simplified", key_id=[7])
    >>> augment(b, Augment.preset("none")).to_lists(0)
    [[[10, 60, 120], [20, 80, 20]], [[200], [200]]]
    >>> a = augment(b, Augment(scale=0.3), seed=1, epoch=0)
    >>> a.to_lists(0) == augment(b, Augment(scale=0.3), seed=1, epoch=0).to_lists(0)
    True
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    if not isinstance(aug, Augment):
        raise TypeError(f"aug must be an Augment, got {type(aug).__name__}")
    n = len(batch)
    if key_ids is None:
        key_ids = batch.key_id
    key_ids = np.asarray(key_ids)
    if key_ids.shape != (n,):
        raise ValueError(f"key_ids must have one value per drawing ({n}), got shape "
                         f"{key_ids.shape}")
    if key_ids.dtype.kind not in "ui" or (key_ids.dtype.kind == "i" and n and key_ids.min() < 0):
        raise ValueError(f"key_ids must be non-negative integers, got {key_ids.dtype}")
    timed = len(batch.t) == batch.num_points and len(batch.t) > 0
    if aug.time_warp > 0 and batch.num_points and not timed:
        raise ValueError(f"time_warp={aug.time_warp} needs drawings with times (raw ones); "
                         f"this {batch.kind} batch has none: use time_warp=0")
    seeds = drawing_seeds(key_ids.astype(np.uint64), seed, epoch)
    dt = COORD_DTYPES[batch.kind]
    P, S = batch.num_points, batch.num_strokes
    x = np.ascontiguousarray(batch.x, dt)
    y = np.ascontiguousarray(batch.y, dt)
    t = np.ascontiguousarray(batch.t if timed else np.zeros(0), np.int32)
    ox, oy = np.empty(P, dt), np.empty(P, dt)
    ot = np.empty(P if timed else 0, np.int32)
    oso = np.empty(S + 1, np.int64)
    odo = np.empty(n + 1, np.int64)
    wx, wy, src, mark, stack, skeep = _work(P, S)
    status, detail, m, s = _kernel._augment(
        x, y, t, np.ascontiguousarray(batch.stroke_offsets, np.int64),
        np.ascontiguousarray(batch.drawing_offsets, np.int64), seeds, aug._params(),
        batch.kind == "simplified", ox, oy, ot, oso, odo, wx, wy, src, mark, stack, skeep)
    if status:
        raise status_error(status, detail, batch=batch, caller=__name__)
    per = {name: getattr(batch, name) for name in ("key_id", "label", "word", "countrycode",
                                                   "recognized", "timestamp", "source_id",
                                                   "record")}
    return StrokeBatch(kind=batch.kind, x=ox[:m], y=oy[:m],
                       t=ot[:m] if timed else batch.t[:0].astype(np.int32),
                       stroke_offsets=oso[:s + 1], drawing_offsets=odo,
                       sources=batch.sources, rejects=list(batch.rejects), **per)
