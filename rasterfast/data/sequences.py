"""Sequence output of StrokeDataset: argument checks, the split's ``max_len``, batch tensors.

Kept apart from :mod:`rasterfast.data.strokes` so that the dataset only asks three
questions: are these sequence arguments right (:func:`check_output`), what is the
padded length of the split (:func:`fit_max_len`), and what are a gathered batch's
tensors (:func:`sequence_batch`, through :func:`rasterfast.to_stroke3` /
:func:`rasterfast.to_stroke5`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..sequence import FORMATS, ON_LONG, convert_batch

__all__ = ["OUTPUTS", "check_output", "fit_max_len", "sequence_batch"]

#: What a StrokeDataset yields: rendered images, or sequences of one of FORMATS.
OUTPUTS = ("image", *FORMATS)


def check_output(output, recipe, size, max_len, on_long) -> bool:
    """Check the output arguments; return whether the output is a sequence format.

    Raises ``ValueError`` for an unknown output, a recipe or size given for sequence
    output (nothing is rendered: they would be silently ignored), sequence arguments
    given for image output, or a bad ``max_len`` / ``on_long``.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if output == "image":
        if max_len is not None or on_long != "raise":
            raise ValueError(f"max_len and on_long apply to sequence output "
                             f"(output='stroke3' or 'stroke5'), not to output='image' "
                             f"(got max_len={max_len!r}, on_long={on_long!r})")
        return False
    if recipe is not None or size is not None:
        raise ValueError(f"output={output!r} renders nothing, so a recipe or size does not "
                         f"apply (got recipe={recipe!r}, size={size!r}): leave them out, or "
                         f"use output='image'")
    if max_len is not None and (isinstance(max_len, bool) or
                                not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError(f"max_len must be an int >= 1 or None (the split's longest "
                         f"drawing), got {max_len!r}")
    if on_long not in ON_LONG:
        raise ValueError(f"on_long must be one of {ON_LONG}, got {on_long!r}")
    return True


def fit_max_len(strokes, kept, max_len, on_long: str, split: str) -> tuple[int, str, int]:
    """The padded length for a split and how many of its drawings exceed it.

    ``strokes`` is the split's :class:`~rasterfast.store.StrokeSet` (every file is
    mapped and checked here); ``kept`` the sorted rows the filters keep (None: all).
    Returns ``(max_len, on_long, count longer than max_len)``; with ``on_long="raise"``
    a split holding a longer drawing is a ``ValueError``.
    """
    longest, over = 0, 0
    for i in range(len(strokes.paths)):
        sh = strokes.shard(i)
        so, do = sh.stroke_offsets, sh.drawing_offsets
        points = so[do[1:]] - so[do[:-1]]
        if kept is not None:
            lo, hi = strokes.offsets[i], strokes.offsets[i + 1]
            mine = kept[np.searchsorted(kept, lo):np.searchsorted(kept, hi)] - lo
            points = points[mine]
        if len(points):
            longest = max(longest, int(points.max()))
            if max_len is not None:
                over += int(np.count_nonzero(points > max_len))
    if max_len is None:
        return max(longest, 1), on_long, 0
    if over and on_long == "raise":
        raise ValueError(f"{over} drawings of split {split!r} have more than max_len={max_len} "
                         f"points (the longest has {longest}): raise max_len, leave it out "
                         f"(the longest), or pass on_long='truncate' to keep their first "
                         f"max_len points")
    return int(max_len), on_long, over


def sequence_batch(drawings, output: str, max_len: int, on_long: str) -> dict:
    """``sequences`` (float32), ``lengths`` (int64) and, when truncating, ``truncated``."""
    seq, lengths, cut = convert_batch(drawings, FORMATS[output], max_len, on_long, np.float32)
    out = {"sequences": torch.from_numpy(seq), "lengths": torch.from_numpy(lengths)}
    if on_long == "truncate":
        out["truncated"] = torch.from_numpy(cut.copy())
    return out
