"""rasterfast.gpu.to_float: the one uint8 -> normalised float conversion."""

import numpy as np
import pytest
import torch

from rasterfast.gpu import to_float


@pytest.mark.parametrize("mean, std", [(0.5, 0.5), (0.0, 1.0), ((0.1, 0.2, 0.3), (0.2, 0.3, 0.4)),
                                       ([0.485], [0.229])])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values(mean, std, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 3, 5, 5), dtype=np.uint8)
    m = np.asarray(mean, np.float64).reshape(-1, 1, 1)
    s = np.asarray(std, np.float64).reshape(-1, 1, 1)
    want = (x / 255.0 - m) / s
    got = to_float(torch.from_numpy(x), mean, std, dtype=dtype)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_float(x[0], mean, std).numpy(), want[0], rtol=1e-5, atol=1e-5)


def test_refuses_float_input():
    # the ToTensor trap: float input has an unknown scale
    with pytest.raises(TypeError, match="uint8"):
        to_float(np.zeros((1, 1, 2, 2), np.float64))
    with pytest.raises(TypeError, match="uint8"):
        to_float(torch.zeros(1, 1, 2, 2))


@pytest.mark.parametrize("kw, match", [({"std": 0.0}, "std must be > 0"),
                                       ({"mean": (0.1, 0.2)}, "one per channel"),
                                       ({"dtype": torch.int32}, "floating")])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        to_float(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), **kw)


def test_device_argument():
    x = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    assert to_float(x, 0.0, 1.0, device="cpu").eq(1.0).all()
