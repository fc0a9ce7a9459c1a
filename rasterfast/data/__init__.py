"""Reading shards into PyTorch.

ShardDataset (images gathered from image shards) and StrokeDataset (images rendered on
the fly from the stroke store), both IterableDatasets over the same BatchDataset base;
ShardLoader (prefetch threads; with ``device=``, a ring of device buffers filled on a side
stream, :mod:`.device`); and the pure pieces they are made of (epoch orders, rank/worker
arithmetic).

Importing this package imports torch; ``import rasterfast`` does not.
"""

from .base import BatchDataset
from .dataset import ShardDataset
from .loader import ShardLoader
from .order import ORDERS, Partition, get_order, make_order, partition
from .strokes import StrokeDataset
from .world import World

__all__ = ["BatchDataset", "ShardDataset", "StrokeDataset", "ShardLoader", "World", "ORDERS",
           "get_order", "make_order", "partition", "Partition"]
