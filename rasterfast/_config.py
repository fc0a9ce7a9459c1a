"""What the versioned config objects share (``Recipe``, ``Augment``): reading a config back.

A config is a JSON object with an ``id``, a ``version`` and the object's fields;
:func:`config_fields` checks the first two and returns the fields, so that each class
only says which fields it knows.
"""

from __future__ import annotations

import json
from dataclasses import fields

__all__ = ["config_fields"]


def config_fields(cls, config, ident: str, version: int, what: str) -> dict:
    """The fields of ``config`` (a dict or its JSON text) for dataclass ``cls``.

    Raises ``TypeError`` for a config that is not a dict, ``ValueError`` for invalid
    JSON, another ``id``, a ``version`` that is not a positive int or is newer than
    ``version``, or a key that is not a field of ``cls``; messages start with ``what``.
    """
    if isinstance(config, (str, bytes)):
        try:
            config = json.loads(config)
        except ValueError as err:
            raise ValueError(f"{what} config is not valid JSON: {err}") from err
    if not isinstance(config, dict):
        raise TypeError(f"{what} config must be a dict, got {type(config).__name__}")
    config = dict(config)
    got = config.pop("id", None)
    if got != ident:
        raise ValueError(f"{what} config id must be {ident!r}, got {got!r}")
    got = config.pop("version", None)
    if isinstance(got, bool) or not isinstance(got, int) or got < 1:
        raise ValueError(f"{what} config version must be a positive int, got {got!r}")
    if got > version:
        raise ValueError(f"{what} config version {got} is newer than this rasterfast reads "
                         f"({version}); upgrade rasterfast")
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} config keys {unknown}; valid: {known}")
    return config
