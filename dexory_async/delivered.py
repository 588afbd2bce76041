"""Which location keys a site has delivered in its round, so that a key delivered again is current in its later copy
alone: the object positions only an earlier copy had are superseded.

Within a sync the keys are known exactly, with the length of each object list. A round can span several syncs (a
kill, a failure, max_pages), so the keys delivered by the earlier syncs of a round travel in state as a `KeyFilter`,
a Bloom filter: it never misses a key it holds, and for the few keys it wrongly says it holds, the only cost is a
delete of object positions that do not exist in the round. With it goes the longest object list of the round, the
most positions an earlier copy can have had.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from .tables import LOCATION_KEY

_HASHES = 4
_FIRST_CAPACITY = 16_384  # keys in the first layer; each further layer holds twice the one before
# Bits per key: 8 in the first layer, 2 more in each further one, so that the layers' false positives add up to
# about 5% at most, however many layers a site needs (2.4% + 1.2% + 0.7% + ...).


def location_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """A location's key within its site, as its row carries it."""
    return tuple(row[column] for column in LOCATION_KEY)


def _hashes(key: tuple[Any, ...]) -> tuple[int, ...]:
    """`_HASHES` independent hashes of `key`, stable across processes (unlike hash())."""
    return _UNPACK(hashlib.blake2b(orjson.dumps(key), digest_size=8 * _HASHES).digest())


_UNPACK = struct.Struct(f"<{_HASHES}Q").unpack


@dataclass
class KeyFilter:
    """A Bloom filter that grows by layers, so no site size has to be known in advance."""

    layers: list[bytearray] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)  # keys added to each layer

    def add(self, key: tuple[Any, ...]) -> None:
        if not self.layers or self.keys[-1] >= _capacity(len(self.layers) - 1):
            self.layers.append(bytearray(_size(len(self.layers))))
            self.keys.append(0)
        layer = self.layers[-1]
        bits = len(layer) * 8
        for hashed in _hashes(key):
            position = hashed % bits
            layer[position >> 3] |= 1 << (position & 7)
        self.keys[-1] += 1

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple):
            return False
        hashes = _hashes(key)
        return any(_holds(layer, hashes) for layer in self.layers)

    def to_text(self) -> str:
        packed = zlib.compress(b"".join(self.layers))
        return ",".join(map(str, self.keys)) + ":" + base64.b64encode(packed).decode()

    @classmethod
    def from_text(cls, text: object) -> KeyFilter | None:
        """The filter `to_text` wrote; None for anything else (state from before, or damaged)."""
        if not isinstance(text, str) or ":" not in text:
            return None
        counts, _, packed = text.partition(":")
        try:
            keys = [int(count) for count in counts.split(",")] if counts else []
            raw = zlib.decompress(base64.b64decode(packed, validate=True))
        except (ValueError, zlib.error):
            return None
        sizes = [_size(index) for index in range(len(keys))]
        if sum(sizes) != len(raw):
            return None
        layers, offset = [], 0
        for size in sizes:
            layers.append(bytearray(raw[offset : offset + size]))
            offset += size
        return cls(layers, keys)


def _holds(layer: bytearray, hashes: tuple[int, ...]) -> bool:
    bits = len(layer) * 8
    for hashed in hashes:
        position = hashed % bits
        if not layer[position >> 3] & (1 << (position & 7)):
            return False
    return True


def _capacity(layer: int) -> int:
    return _FIRST_CAPACITY << layer


def _size(layer: int) -> int:
    """Bytes of a layer."""
    return _capacity(layer) * (8 + 2 * layer) // 8


@dataclass(frozen=True)
class Earlier:
    """What a sync knows of a round's syncs before it: the keys they delivered, and their longest object list."""

    keys: KeyFilter | None = None
    widest: int = 0


@dataclass(frozen=True)
class Superseded:
    """Object positions of a key delivered earlier in the round that its copy now being delivered does not have."""

    positions: range
    certain: bool  # the key was delivered earlier in this sync (else: perhaps, in an earlier sync of the round)


class DeliveredKeys:
    """The location keys one site delivered in this sync (as the warehouse compares them) with the length of each
    one's object list, and what the round's earlier syncs delivered."""

    def __init__(self, earlier: Earlier = Earlier()) -> None:
        self._earlier = earlier
        # By the key's hash, not the key: a site's every key is held for the whole sync, and a 64-bit hash takes a
        # quarter of the memory of the strings and time it stands for (two keys sharing one would be taken for a
        # duplicate: about once in 10^7 syncs of a million locations, and harmless but for its deletes).
        self._extents: dict[int, int] = {}

    def deliver(self, key: tuple[Any, ...], extent: int) -> Superseded | None:
        """Note `key` with `extent` objects; the positions it supersedes, if it was (or may have been) delivered: up
        to the longest list any earlier copy had (deleting a position twice is harmless)."""
        hashed = hash(key)
        before = self._extents.get(hashed)
        if before is not None:
            self._extents[hashed] = max(before, extent)
            return Superseded(range(extent, before), certain=True)
        self._extents[hashed] = extent
        earlier = self._earlier
        if earlier.keys is not None and extent < earlier.widest and key in earlier.keys:
            return Superseded(range(extent, earlier.widest), certain=False)
        return None
