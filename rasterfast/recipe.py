"""Recipe: how drawings become images (size, line width, channels), as a small frozen value.

A :class:`Recipe` is what :func:`rasterfast.render` reads, what a build stores
in its ``manifest.json`` (``recipe.get_config()``, a JSON object), and what
``rasterfast render`` and ``rasterfast preview`` take by preset name. Two
recipes are equal when their configs are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from dataclasses import replace as _replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._config import config_fields
from .batch import StrokeBatch
from .encoders import CHANNELS, check_channels, encode
from .render import COMPOSE, GEOMETRIES, METHODS

__all__ = ["Recipe", "PRESETS", "RECIPE_ID", "RECIPE_VERSION", "SIZE_RANGE", "MAX_LINE_WIDTH"]

#: The ``id`` of a recipe config, and its version: bumped whenever a config of
#: an older version would draw other pixels (a new field, a changed normaliser).
RECIPE_ID = "rasterfast.Recipe"
RECIPE_VERSION = 1
#: Output sizes a recipe accepts, in pixels.
SIZE_RANGE = (16, 512)
#: The widest line, in 256-px units (also OpenCV's largest thickness in render).
MAX_LINE_WIDTH = 64

#: name -> (one-line description, fields other than size).
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "gray": (
        "1 channel of ink (255) from simplified drawings, drawn directly at the size",
        {"channels": ("ink",), "line_width": 6.0, "antialias": False, "compose": "paint",
         "geometry": "simplified", "method": "direct"},
    ),
    "beluga": (
        "the Kaggle baseline: stroke order 255 - min(i, 10) * 13, cv2.line thickness 6 at "
        "256 px, cv2.resize to the size",
        {"channels": ("stroke_order",), "line_width": 6.0, "antialias": False,
         "compose": "paint", "geometry": "simplified", "method": "opencv256"},
    ),
    "time3": (
        "raw drawings, 3 channels (5th-place style): pause before the stroke, draw time of "
        "the stroke, number of strokes",
        {"channels": ("pause", "stroke_time", "stroke_count"), "line_width": 6.0,
         "antialias": False, "compose": "paint", "geometry": "scale", "method": "direct"},
    ),
    "time3-gradient": (
        "raw drawings, 3 channels: time gradient over the drawing, draw time of the stroke, "
        "pause before the stroke",
        {"channels": ("time", "stroke_time", "pause"), "line_width": 6.0, "antialias": False,
         "compose": "paint", "geometry": "scale", "method": "direct"},
    ),
    "order3": (
        "simplified drawings, 3 channels: ink, stroke index over the drawing, point progress "
        "along the stroke",
        {"channels": ("ink", "stroke_index", "point_progress"), "line_width": 6.0,
         "antialias": False, "compose": "paint", "geometry": "simplified", "method": "direct"},
    ),
}


@dataclass(frozen=True, eq=False)
class Recipe:
    """How drawings become uint8 images ``[C, size, size]``; a frozen, JSON-round-trippable value.

    Parameters
    ----------
    size : int
        Output side in pixels, 16-512.
    channels : sequence of str
        One image channel per name, each an encoder of
        :mod:`rasterfast.encoders` (``ink``, ``stroke_order``, ``stroke_index``,
        ``point_progress``, and from drawings with times ``time``,
        ``stroke_time``, ``pause``, ``stroke_count``).
    line_width : float
        Stroke width in 256-px units, scaled to ``size`` (6 draws 1.5 px at
        64 px); 0 < width <= 64. ``method="opencv256"`` takes an integer 2-64
        (OpenCV's ``thickness`` on the 256-px canvas).
    antialias : bool
        Coverage antialiasing (``method="direct"`` only).
    compose : {"paint", "max"}
        Later strokes over earlier ones, or the largest value per pixel.
    geometry : {"simplified", "simplify", "scale"}
        How coordinates reach the 0-255 frame: simplified input is already in
        it; raw input goes through Google's simplification (times carried
        along), or is fitted into it keeping its aspect (``"scale"``).
    method : {"direct", "opencv256"}
        Draw at ``size``, or as the Kaggle baseline: ``cv2.line`` at 256 px,
        then ``cv2.resize`` (see :func:`rasterfast.render`).

    Attributes
    ----------
    needs : {"simplified", "raw"}
        The input the recipe draws from: ``"raw"`` for every geometry but
        ``"simplified"``.
    shape : tuple of int
        ``(channels, size, size)`` of one image.

    Raises
    ------
    TypeError, ValueError
        A value of the wrong type or out of range; the message names the field.

    See Also
    --------
    Recipe.preset : the named recipes.
    rasterfast.render : draws a batch with a recipe.

    Examples
    --------
    >>> r = Recipe.preset("beluga", size=64)
    >>> r.shape, r.needs
    ((1, 64, 64), 'simplified')
    >>> Recipe.from_config(r.get_config()) == r
    True
    >>> Recipe(size=32, channels=["ink", "time"])
    Traceback (most recent call last):
    ...
    ValueError: channels ['time'] need times from raw drawings, but geometry='simplified' \
takes simplified ones without times; use geometry='scale' or 'simplify'
    """

    size: int = 64
    channels: tuple[str, ...] = ("ink",)
    line_width: float = 6.0
    antialias: bool = False
    compose: str = "paint"
    geometry: str = "simplified"
    method: str = "direct"

    def __post_init__(self):
        size = self.size
        if not isinstance(size, Integral) or isinstance(size, bool):
            raise TypeError(f"size must be an int, got {type(size).__name__} {size!r}")
        if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
            raise ValueError(f"size must be {SIZE_RANGE[0]}-{SIZE_RANGE[1]} px, got {size}")
        channels = check_channels(self.channels)
        lw = self.line_width
        if not isinstance(lw, Real) or isinstance(lw, bool):
            raise TypeError(f"line_width must be a number (256-px units), got "
                            f"{type(lw).__name__} {lw!r}")
        if not math.isfinite(lw) or not 0 < lw <= MAX_LINE_WIDTH:
            raise ValueError(f"line_width must be > 0 and <= {MAX_LINE_WIDTH} (256-px units), "
                             f"got {lw!r}")
        if not isinstance(self.antialias, (bool, np.bool_)):
            raise TypeError(f"antialias must be a bool, got {type(self.antialias).__name__} "
                            f"{self.antialias!r}")
        for name, value, choices in (("compose", self.compose, COMPOSE),
                                     ("geometry", self.geometry, GEOMETRIES),
                                     ("method", self.method, METHODS)):
            if not isinstance(value, str) or value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                                 f"got {value!r}")
        if self.method == "opencv256":
            if self.antialias:
                raise ValueError("antialias=True does not exist with method='opencv256' "
                                 "(cv2.line LINE_8 draws without it)")
            if lw != int(lw) or lw < 2:
                raise ValueError(f"method='opencv256' takes an integer line_width (cv2 "
                                 f"thickness) 2-{MAX_LINE_WIDTH}, got {lw!r}")
        timed = [c for c in channels if CHANNELS[c].needs_time]
        if timed and self.geometry == "simplified":
            raise ValueError(f"channels {timed} need times from raw drawings, but "
                             f"geometry='simplified' takes simplified ones without times; "
                             f"use geometry='scale' or 'simplify'")
        object.__setattr__(self, "size", int(size))
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "line_width", float(lw))
        object.__setattr__(self, "antialias", bool(self.antialias))

    # -- what it is -------------------------------------------------------------------------
    @property
    def needs(self) -> str:
        """``"simplified"`` or ``"raw"``: the input this recipe draws from."""
        return "simplified" if self.geometry == "simplified" else "raw"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(channels, size, size)`` of one image."""
        return (len(self.channels), self.size, self.size)

    def encode(self, batch: StrokeBatch) -> np.ndarray:
        """Each segment's value per channel, uint8 ``[C, P]`` (:func:`rasterfast.encoders.encode`).

        Raises
        ------
        ValueError
            A time channel on a batch without times.
        """
        return encode(batch, self.channels)

    def replace(self, **changes) -> Recipe:
        """A copy with some fields changed (validated again)."""
        return _replace(self, **changes)

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The recipe as a JSON-serialisable dict with its ``id`` and ``version``."""
        return {"id": RECIPE_ID, "version": RECIPE_VERSION, "size": self.size,
                "channels": list(self.channels), "line_width": self.line_width,
                "antialias": self.antialias, "compose": self.compose,
                "geometry": self.geometry, "method": self.method}

    @classmethod
    def from_config(cls, config: dict) -> Recipe:
        """The recipe of a config from :meth:`get_config` (or its JSON text).

        Fields missing from the config take their defaults.

        Raises
        ------
        TypeError
            ``config`` is not a dict (or JSON text of one).
        ValueError
            Another ``id``, a ``version`` newer than this rasterfast reads, an
            unknown key, or an invalid value.
        """
        return cls(**config_fields(cls, config, RECIPE_ID, RECIPE_VERSION, "recipe"))

    def __eq__(self, other):
        if not isinstance(other, Recipe):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self):
        return hash(json.dumps(self.get_config(), sort_keys=True))

    # -- presets --------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, size: int = 64, **overrides) -> Recipe:
        """The named recipe at ``size``, with any field overridden.

        Parameters
        ----------
        name : str
            One of :meth:`presets`.
        size : int
            Output side in pixels, 16-512.
        **overrides
            Other fields (``line_width``, ``antialias``, ...).

        Raises
        ------
        ValueError
            An unknown preset (the message lists them) or an invalid value.
        TypeError
            An override that is not a field.

        Examples
        --------
        >>> Recipe.preset("gray", size=32, antialias=True).antialias
        True
        """
        if name not in PRESETS:
            raise ValueError(f"unknown recipe preset {name!r}; presets: {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)} - {"size"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown recipe fields {unknown}; valid: {sorted(known)}")
        return cls(size=size, **{**PRESETS[name][1], **overrides})

    @staticmethod
    def presets() -> dict[str, str]:
        """Preset name -> one-line description."""
        return {name: desc for name, (desc, _) in PRESETS.items()}
