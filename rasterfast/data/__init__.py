"""Reading shards into PyTorch.

ShardDataset (an IterableDataset), ShardLoader (prefetch threads; with ``device=``, a
ring of device buffers filled on a side stream, :mod:`.device`), and the pure pieces they
are made of (epoch orders, rank/worker arithmetic).

Importing this package imports torch; ``import rasterfast`` does not.
"""

from .dataset import ShardDataset
from .loader import ShardLoader
from .order import ORDERS, Partition, get_order, make_order, partition
from .world import World

__all__ = ["ShardDataset", "ShardLoader", "World", "ORDERS", "get_order", "make_order",
           "partition", "Partition"]
