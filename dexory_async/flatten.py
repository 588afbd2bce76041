"""Turning one page of locations into `locations` rows and `expected_inventory_objects` rows.

Malformed input never stops a sync: the offending location or object is skipped and reported as a `Skip`.
Values are given in the form the SDK encodes cheapest for their declared type: `scan_date` as an aware datetime
(text would be parsed again with strptime, once per row of both tables), text as str, numbers as int or float.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from .delivered import DeliveredKeys, location_key
from .tables import (
    KEY_FIELDS,
    LOCATION_KEY,
    LOCATION_NUMBERS,
    OBJECT_INDEX,
    OBJECT_NUMBERS,
    ROUND_STARTED_AT,
    SITE,
)

OBJECTS_FIELD = "expected_inventory_objects"

Row = dict[str, Any]
_NESTED = (dict, list)  # values stored as JSON text


@dataclass(frozen=True)
class Skip:
    kind: str  # one of the SKIP_* names below
    detail: str


SKIP_LOCATION_NOT_OBJECT = "location_not_an_object"
SKIP_LOCATION_MISSING_KEY = "location_missing_key_field"
SKIP_LOCATION_BAD_SCAN_DATE = "location_bad_scan_date"
SKIP_OBJECTS_NOT_LIST = "objects_not_a_list"
SKIP_OBJECT_NOT_OBJECT = "object_not_an_object"
NULLED_NOT_A_NUMBER = "value_not_a_number"  # the row lands; only the value of a numeric column is left out


@dataclass
class FlatRows:
    locations: list[Row] = field(default_factory=list)
    objects: list[Row] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    superseded: list[Row] = field(default_factory=list)  # keys of objects a later copy of their location dropped
    duplicates: list[str] = field(default_factory=list)  # location keys delivered again in this sync, described
    widest: int = 0  # the longest object list of the page


def flatten_locations(site: str, round_started_at: datetime, locations: list[Any], keys: DeliveredKeys) -> FlatRows:
    """The rows of one page of `site`: every row carries the site, so sites share the tables without colliding, and
    the start of the site's sync round, which tells the current snapshot from history. A location key the page holds
    twice lands in its later copy alone, so the page's deletes never meet its own upserts."""
    rows = FlatRows()
    stamp = {SITE: site, ROUND_STARTED_AT: round_started_at}
    placed: dict[tuple[Any, ...], _Placed] = {}
    replaced: list[_Placed] = []
    for position, location in enumerate(locations):
        start = _Placed.start(rows)
        key = _flatten_location(stamp, position, location, rows, keys)
        if key is None:
            continue
        if key in placed:
            replaced.append(placed[key])
        placed[key] = start.end(rows)
    return _without(rows, replaced) if replaced else rows


@dataclass(frozen=True)
class _Placed:
    """Where one location's rows sit in a page's lists: its row, its objects, its deletes."""

    location: int
    objects: range
    superseded: range

    @classmethod
    def start(cls, rows: FlatRows) -> _Placed:
        objects, superseded = len(rows.objects), len(rows.superseded)
        return cls(len(rows.locations), range(objects, objects), range(superseded, superseded))

    def end(self, rows: FlatRows) -> _Placed:
        return _Placed(
            self.location,
            range(self.objects.start, len(rows.objects)),
            range(self.superseded.start, len(rows.superseded)),
        )


def _without(rows: FlatRows, replaced: list[_Placed]) -> FlatRows:
    """`rows` less the rows of the copies `replaced` by a later copy in the same page."""
    locations = {place.location for place in replaced}
    objects = {index for place in replaced for index in place.objects}
    superseded = {index for place in replaced for index in place.superseded}
    return replace(
        rows,
        locations=[row for index, row in enumerate(rows.locations) if index not in locations],
        objects=[row for index, row in enumerate(rows.objects) if index not in objects],
        superseded=[row for index, row in enumerate(rows.superseded) if index not in superseded],
    )


def _flatten_location(
    stamp: Row, position: int, location: Any, rows: FlatRows, keys: DeliveredKeys
) -> tuple[Any, ...] | None:
    """Append the rows of one location; its key, if it landed."""
    if not isinstance(location, dict):
        rows.skipped.append(Skip(SKIP_LOCATION_NOT_OBJECT, f"item {position} is {type(location).__name__}"))
        return None
    missing = [key for key in LOCATION_KEY if location.get(key) is None]
    if missing:
        rows.skipped.append(Skip(SKIP_LOCATION_MISSING_KEY, f"item {position} lacks {', '.join(missing)}"))
        return None
    scan_date = normalise_timestamp(location["scan_date"])
    if scan_date is None:
        detail = f"item {position} ({location['name']!r}) has scan_date {location['scan_date']!r}"
        rows.skipped.append(Skip(SKIP_LOCATION_BAD_SCAN_DATE, detail))
        return None

    if _LOCATION_COLUMNS.keeps(location):  # the usual case, kept fast
        row = {key: _json(value) if type(value) in _NESTED else value for key, value in location.items()}
    else:
        columns = _LOCATION_COLUMNS.columns(location)
        row = {columns[key]: _json(value) if type(value) in _NESTED else value for key, value in location.items()}
    row.pop(OBJECTS_FIELD, None)
    _check_numbers(row, LOCATION_NUMBERS, location["name"], None, rows.skipped)
    for key in LOCATION_KEY[:-1]:  # key columns are strings, whatever JSON type the API used
        value = row[key]
        if not isinstance(value, str):
            row[key] = value = orjson.dumps(value).decode()
        if "\x00" in value:  # the SDK strips NUL: "N\x00UL" would land as the key of "NUL"
            row[key] = value.replace("\x00", "\ufffd")
    row["scan_date"] = scan_date
    row.update(stamp)
    rows.locations.append(row)

    objects = location.get(OBJECTS_FIELD)
    extent = len(objects) if isinstance(objects, list) else 0
    rows.widest = max(rows.widest, extent)
    parent = {key: row[key] for key in KEY_FIELDS}
    identity = location_key(parent)
    delivered_before = _note_delivery(identity, parent, extent, rows, keys)
    if objects is None:
        return identity
    if not isinstance(objects, list):
        detail = f"location {location['name']!r} has {OBJECTS_FIELD} of type {type(objects).__name__}"
        rows.skipped.append(Skip(SKIP_OBJECTS_NOT_LIST, detail))
        return identity
    stamped = {**parent, ROUND_STARTED_AT: stamp[ROUND_STARTED_AT]}
    for index, item in enumerate(objects):
        if not isinstance(item, dict):
            detail = f"location {location['name']!r} object {index} is {type(item).__name__}"
            rows.skipped.append(Skip(SKIP_OBJECT_NOT_OBJECT, detail))
            if delivered_before:  # an earlier copy's object in this position is no longer current
                rows.superseded.append({**parent, OBJECT_INDEX: index})
            continue
        row = _object_row(stamped, index, item)
        _check_numbers(row, OBJECT_NUMBERS, location["name"], index, rows.skipped)
        rows.objects.append(row)
    return identity


def _note_delivery(key: tuple[Any, ...], parent: Row, extent: int, rows: FlatRows, keys: DeliveredKeys) -> bool:
    """A key delivered earlier in the round (the same, or the same once the warehouse has typed it: 123 and "123",
    scan dates apart by less than a microsecond) is a duplicate: its later copy stands, alone with its objects.
    Whether the key was (or may have been) delivered before."""
    superseded = keys.deliver(key, extent)
    if superseded is None:
        return False
    if superseded.certain:
        values = ", ".join(f"{column}={value!r}" for column, value in parent.items() if column != SITE)
        rows.duplicates.append(f"{values} (objects: {superseded.positions.stop} before, {extent} now)")
    rows.superseded.extend({**parent, OBJECT_INDEX: index} for index in superseded.positions)
    return True


def _object_row(parent: Row, index: int, item: dict[str, Any]) -> Row:
    """The object's own fields plus its parent's key and position; a field named like a parent column is prefixed."""
    row = {**parent, OBJECT_INDEX: index}
    if _OBJECT_COLUMNS.keeps(item):  # the usual case, kept fast
        row.update({key: _json(value) if type(value) in _NESTED else value for key, value in item.items()})
    else:
        columns = _OBJECT_COLUMNS.columns(item)
        row.update({columns[key]: _json(value) if type(value) in _NESTED else value for key, value in item.items()})
    return row


@lru_cache(maxsize=4096)
def _compact(name: str) -> str:
    """A name as Fivetran's column naming may merge it with others: `Site`, `SITE`, `s-i-t-e` and `sïte` all become
    `site`, `ScanDate` and `scan_date` both `scan_date`. Accents dropped, ASCII letters and digits only (any other
    character becomes an underscore), lower case."""
    return "".join(char for char in unicodedata.normalize("NFD", name) if char.isascii() and char.isalnum()).lower()


class _Columns:
    """The column a field lands in: its own name, unless Fivetran's naming would make it one of the columns the
    connector writes itself (a key, `site`, `object_index`), which would overwrite them: then it is prefixed, until
    no other field of the row would land in the same column. A field named "" gets a name. The names that land as
    they are, are remembered, so most rows are checked in one step."""

    def __init__(self, prefix: str, ours: tuple[str, ...], theirs: tuple[str, ...] = ()) -> None:
        self._prefix = prefix
        self._ours = frozenset(_compact(name) for name in ours)
        self._kept: set[str] = set(theirs)  # the API's own fields among ours: they are the columns
        self._by_shape: dict[tuple[str, ...], dict[str, str]] = {}

    def keeps(self, fields: dict[str, Any]) -> bool:
        return self._kept.issuperset(fields)

    def columns(self, fields: dict[str, Any]) -> dict[str, str]:
        """Each field's column, for a row with a field that does not keep its name (remembered by the row's fields:
        an API sends the same few shapes of record)."""
        shape = tuple(fields)
        columns = self._by_shape.get(shape)
        if columns is None:
            taken = {_compact(name) for name in fields}
            columns = {name: self._column(name, taken) for name in fields}
            if len(self._by_shape) < _KEPT_NAMES:
                self._by_shape[shape] = columns
        return columns

    def _column(self, name: str, taken: set[str]) -> str:
        if name in self._kept:
            return name
        column = name or UNNAMED
        while _compact(column) in self._ours or (column != name and _compact(column) in taken):
            column = self._prefix + column
        if column == name and len(self._kept) < _KEPT_NAMES:
            self._kept.add(name)
        return column


UNNAMED = "unnamed"
_KEPT_NAMES = 10_000  # an API that invents field names cannot grow the memos without bound
_LOCATION_COLUMNS = _Columns("location_", (*KEY_FIELDS, ROUND_STARTED_AT), theirs=(*LOCATION_KEY, OBJECTS_FIELD))
_OBJECT_COLUMNS = _Columns("object_", (*KEY_FIELDS, OBJECT_INDEX, ROUND_STARTED_AT))


def _check_numbers(row: Row, columns: frozenset[str], name: Any, index: int | None, skipped: list[Skip]) -> None:
    """A declared DOUBLE column must get a number: anything else would fail the whole sync in the SDK."""
    for column in columns:
        value = row.get(column)
        if value is None or type(value) is int or (type(value) is float and math.isfinite(value)):
            continue
        row[column] = _parse_number(value)
        if row[column] is None:
            where = f"location {name!r}" + ("" if index is None else f" object {index}")
            skipped.append(Skip(NULLED_NOT_A_NUMBER, f"{where}: {column}={value!r} is not a number; left null"))


_NUMBER_TEXT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*", re.ASCII)


def _parse_number(value: Any) -> float | None:
    """A number sent as text is still a number (written as JSON or a person would: not "1_000", not full-width
    digits, which float() would take); anything else is not."""
    if not isinstance(value, str) or not _NUMBER_TEXT.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _json(value: dict[str, Any] | list[Any]) -> str:
    """Nested values become compact JSON with sorted keys, so equal values always give equal strings. orjson stops at
    255 levels of nesting; the standard library goes deeper, for the rare value that needs it."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (naive means UTC), or None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: an offset pushing 0001-01-01 or 9999-12-31 off the calendar
        return None
    return moment
