"""uint8 images to normalised float, on the device, once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["to_float", "affine_for", "to_float_into"]


def _per_channel(name: str, v, channels: int) -> tuple[float, ...] | float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, (Sequence, np.ndarray, torch.Tensor)):
        vals = [float(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
        if len(vals) == 1:
            return vals[0]
        if len(vals) != channels:
            raise ValueError(f"{name} must be a scalar or {channels} values (one per channel), "
                             f"got {len(vals)}")
        return tuple(vals)
    raise TypeError(f"{name} must be a number or a sequence of numbers, got {type(v).__name__}")


def to_float(images, mean=0.5, std=0.5, *, device=None, dtype=torch.float32,
             non_blocking: bool = True) -> torch.Tensor:
    """Turn uint8 images into normalised floats: ``(images / 255 - mean) / std``.

    Call it once, on the device, after the transfer: the uint8 batch crosses PCIe at a
    quarter of the bytes of float32, and the conversion is one fused multiply-subtract
    per element on the GPU instead of per-sample Python in DataLoader workers.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray of uint8
        ``[B, C, H, W]`` or ``[C, H, W]`` (channels first, as ShardDataset yields).
    mean, std : float or sequence of float
        On the 0-1 scale (``0.5`` is mid-grey), one value or one per channel.
    device : torch.device or str, optional
        Where to convert (default: where ``images`` is). The uint8 tensor is moved first.
    dtype : torch.dtype
        A floating dtype (float32, float16, bfloat16).
    non_blocking : bool
        Passed to ``.to(device)``: asynchronous from pinned memory.

    Returns
    -------
    torch.Tensor
        ``dtype`` on ``device``, same shape.

    Raises
    ------
    TypeError
        ``images`` is not uint8. This is on purpose: torchvision's ``ToTensor`` divides by
        255 only for uint8 input (PIL images and uint8 arrays); a float array (say float64
        after an ``astype`` or a resize) goes through *unscaled*, so a 0-255 image is
        "normalised" to 0-510 and training quietly suffers. Here the scale is always
        applied, once, and only to data whose scale is known.
    ValueError
        ``std`` is not positive, or per-channel values do not match the channel count.

    Examples
    --------
    >>> x = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)
    >>> to_float(x, mean=0.5, std=0.5)
    tensor([[[[-1.0000,  1.0000],
              [-0.6000, -0.2000]]]])
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor or numpy.ndarray, got "
                        f"{type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 (0-255), got {images.dtype}: the scale of "
                        "float input is unknown (see the ToTensor trap in the docstring)")
    if images.dim() not in (3, 4):
        raise ValueError(f"images must be [B, C, H, W] or [C, H, W], got shape "
                         f"{tuple(images.shape)}")
    scale, shift = affine_for(images.shape[-3], mean, std, dtype)
    if device is not None:
        images = images.to(device, non_blocking=non_blocking)
    out = images.to(dtype)
    return _scale_shift(out, scale, shift, images.device)


def affine_for(channels: int, mean, std, dtype) -> tuple:
    """``(scale, shift)`` with ``(x / 255 - mean) / std == x * scale - shift``.

    Each is a float or a per-channel float64 array; validated here once, so that a loader
    converting every batch (:class:`rasterfast.data.ShardLoader` with ``to_float=True``)
    checks its arguments at construction and not per batch.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype}")
    mean = _per_channel("mean", mean, channels)
    std = _per_channel("std", std, channels)
    if min(std if isinstance(std, tuple) else (std,)) <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    if isinstance(mean, tuple) or isinstance(std, tuple):
        m = np.broadcast_to(np.asarray(mean, np.float64), (channels,))
        s = np.broadcast_to(np.asarray(std, np.float64), (channels,))
        return 1.0 / (255.0 * s), m / s
    return 1.0 / (255.0 * std), mean / std


def _scale_shift(out: torch.Tensor, scale, shift, device) -> torch.Tensor:
    """``out * scale - shift`` in place (float ``out`` holding 0-255 values)."""
    # (x / 255 - m) / s == x * (1 / (255 s)) - m / s: one multiply and one subtract.
    # The constants are computed in float64 and rounded once to dtype.
    if isinstance(scale, np.ndarray):
        shape = (len(scale), 1, 1)
        scale = torch.as_tensor(scale, dtype=out.dtype).reshape(shape).to(device)
        shift = torch.as_tensor(shift, dtype=out.dtype).reshape(shape).to(device)
    return out.mul_(scale).sub_(shift)


def to_float_into(images: torch.Tensor, out: torch.Tensor, scale, shift) -> torch.Tensor:
    """``to_float`` of uint8 ``images`` written into the float tensor ``out``, same device.

    ``out`` may have another memory format (``channels_last``): the copy converts dtype and
    layout in one pass. ``scale``/``shift`` come from :func:`affine_for`, or are tensors
    already on the device with shape ``(C, 1, 1)``.
    """
    out.copy_(images)
    return out.mul_(scale).sub_(shift) if isinstance(scale, torch.Tensor) else \
        _scale_shift(out, scale, shift, out.device)
