"""The stroke store: drawings as flat, memory-mappable arrays, one ``.strokes`` file per shard.

A build writes, next to (or instead of, with ``--no-images``) each image shard, a
``<split>/NNNNNN.strokes`` file holding the same drawings in the same order; the
shard directory's manifest lists it with its size and sha256 (see
``rasterfast/format/README.md``). This package owns that file: its byte layout
(``rasterfast/store/README.md``, versioned), writing it (:func:`iter_strokes_bytes`),
mapping and checking it (:class:`StrokeShard`), and gathering a batch of drawings
from many of them (:class:`StrokeSet`), which :class:`rasterfast.StrokeDataset`
renders on the fly.
"""

from __future__ import annotations

from .codec import (
    HEADER_BYTES,
    MAGIC,
    STROKES_VERSION,
    SUPPORTED_VERSIONS,
    StrokeLayout,
    iter_strokes_bytes,
    read_layout,
)
from .reader import StrokeSet, StrokeShard, read_header

__all__ = ["StrokeShard", "StrokeSet", "StrokeLayout", "iter_strokes_bytes", "read_layout",
           "read_header", "check_recipe", "MAGIC", "STROKES_VERSION", "SUPPORTED_VERSIONS",
           "HEADER_BYTES"]


def check_recipe(recipe, kind: str, times: bool, where) -> None:
    """Raise ``ValueError`` unless a store of ``kind`` drawings can serve ``recipe``.

    Recipes that draw simplified geometry need a simplified store; the others (geometry
    ``"scale"`` or ``"simplify"``) a raw one; channels that need times need a store that
    kept them. ``where`` names the store in the message.
    """
    from ..encoders import CHANNELS

    needs = recipe.needs
    if needs != kind:
        hint = ("build it from raw inputs (e.g. train_raw) with a raw recipe such as time3, or "
                "use a recipe with geometry='simplified'" if needs == "raw" else
                "use a recipe that draws raw drawings (geometry='scale' or 'simplify'), or "
                "build from the simplified inputs")
        raise ValueError(f"the recipe (geometry={recipe.geometry!r}, channels "
                         f"{list(recipe.channels)}) draws {needs} drawings, but {where} stores "
                         f"{kind} ones: {hint}")
    timed = [c for c in recipe.channels if CHANNELS[c].needs_time]
    if timed and not times:
        raise ValueError(f"recipe channels {timed} need stroke times, but {where} kept none "
                         "(build it from raw inputs)")
