"""flatten_locations: one site's page of locations in; `locations` and `expected_inventory_objects` rows, skips out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dexory_async.delivered import DeliveredKeys, Earlier, KeyFilter, location_key
from dexory_async.flatten import (
    NULLED_NOT_A_NUMBER,
    OBJECTS_FIELD,
    SKIP_LOCATION_BAD_SCAN_DATE,
    SKIP_LOCATION_MISSING_KEY,
    SKIP_LOCATION_NOT_OBJECT,
    SKIP_OBJECT_NOT_OBJECT,
    SKIP_OBJECTS_NOT_LIST,
    FlatRows,
    Row,
    flatten_locations,
    normalise_timestamp,
)
from dexory_async.tables import KEY_FIELDS, LOCATION_KEY, OBJECT_INDEX, ROUND_STARTED_AT
from dexory_simulator.data import ground_truth, locations

SITE = "paris-dc"
SCAN = "2026-11-03T08:15:30.250Z"
SCAN_AT = datetime(2026, 11, 3, 8, 15, 30, 250_000, tzinfo=UTC)
ROUND = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def loc(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "A01-0001-02", "location_type": "rack", "aisle": "A01", "scan_date": SCAN}
    base.update(fields)
    return base


def parent(scan_date: datetime = SCAN_AT) -> dict[str, Any]:
    """What every row of the location carries: its key and the start of its sync round."""
    key = {"site": SITE, "name": "A01-0001-02", "location_type": "rack", "aisle": "A01", "scan_date": scan_date}
    return {**key, ROUND_STARTED_AT: ROUND}


def flat(site: str, page: list[Any]) -> FlatRows:
    """A page flattened as the first of its sync."""
    return flatten_locations(site, ROUND, page, DeliveredKeys())


def flat_one(location: Any) -> FlatRows:
    return flat(SITE, [location])


def assert_utc(moment: datetime | None, expected: datetime) -> None:
    """The same instant, and also the same wall clock in UTC: equal aware datetimes may be in different zones."""
    assert moment is not None
    assert moment.tzinfo is UTC
    assert moment.isoformat() == expected.isoformat()


def keys(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in KEY_FIELDS) for row in rows]


# ---------------------------------------------------------------------------------------------------- location rows


def test_location_row_has_the_site_and_every_field_except_the_objects() -> None:
    location = loc(
        occupancy=0.42,
        status="ok",
        status_type="correct",
        message=None,
        image_url="https://images.example.invalid/1.jpg",
        expected_inventory_objects=[{"sku": "SKU-1"}],
    )

    rows = flat_one(location)

    assert rows.locations == [
        {
            "site": SITE,
            "name": "A01-0001-02",
            "location_type": "rack",
            "aisle": "A01",
            "scan_date": SCAN_AT,
            "occupancy": 0.42,
            "status": "ok",
            "status_type": "correct",
            "message": None,
            "image_url": "https://images.example.invalid/1.jpg",
            ROUND_STARTED_AT: ROUND,
        }
    ]
    assert OBJECTS_FIELD not in rows.locations[0]
    assert rows.skipped == []


def test_input_location_is_not_mutated() -> None:
    location = loc(site="theirs", zoning={"b": 1, "a": 2}, expected_inventory_objects=[{"name": "x", "site": "s"}])
    snapshot = repr(location)

    flat_one(location)

    assert repr(location) == snapshot


def test_nested_values_become_compact_json_with_sorted_keys() -> None:
    location = loc(
        zoning={"zone": "Z3", "temperature": "chilled", "hazmat": False},
        scanned_markers=["MK000002", "MK000001"],
        nested={"b": {"d": [1, {"z": None, "y": 1.5}], "c": "é"}, "a": []},
        empty_dict={},
    )

    row = flat_one(location).locations[0]

    assert row["zoning"] == '{"hazmat":false,"temperature":"chilled","zone":"Z3"}'
    assert row["scanned_markers"] == '["MK000002","MK000001"]'  # list order is kept; only keys are sorted
    assert row["nested"] == '{"a":[],"b":{"c":"é","d":[1,{"y":1.5,"z":null}]}}'
    assert row["empty_dict"] == "{}"


def test_equal_nested_values_give_equal_strings_whatever_key_order() -> None:
    first = flat_one(loc(zoning={"a": 1, "b": {"x": 1, "y": 2}})).locations[0]["zoning"]
    second = flat_one(loc(zoning={"b": {"y": 2, "x": 1}, "a": 1})).locations[0]["zoning"]

    assert first == second == '{"a":1,"b":{"x":1,"y":2}}'


def test_unknown_fields_pass_through_unchanged() -> None:
    row = flat_one(loc(robot_firmware="4.2.1", battery=87, charged=True, note=None)).locations[0]

    assert row["robot_firmware"] == "4.2.1"
    assert row["battery"] == 87
    assert row["charged"] is True
    assert "note" in row and row["note"] is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("aisle", 7, "7"),
        ("aisle", 7.5, "7.5"),
        ("name", 123, "123"),
        ("location_type", True, "true"),
        ("location_type", {"b": 1, "a": 2}, '{"a":2,"b":1}'),
        ("name", ["x", 1], '["x",1]'),
    ],
)
def test_non_string_key_values_become_strings(field: str, value: Any, expected: str) -> None:
    rows = flat_one(loc(**{field: value}, expected_inventory_objects=[{"sku": "S"}]))

    assert rows.locations[0][field] == expected
    assert rows.objects[0][field] == expected  # the child row references the same, stringified, parent key
    assert rows.skipped == []


def test_empty_string_key_fields_are_not_missing() -> None:
    rows = flat_one(loc(location_type=""))

    assert rows.locations[0]["location_type"] == ""
    assert rows.skipped == []


# ---------------------------------------------------------------------------------------------------- sites


def test_every_row_of_both_tables_carries_the_site_given() -> None:
    rows = flat("lyon-dc", [loc(name="L1", expected_inventory_objects=[{"sku": "a"}, {"sku": "b"}])])

    assert [row["site"] for row in rows.locations] == ["lyon-dc"]
    assert [row["site"] for row in rows.objects] == ["lyon-dc", "lyon-dc"]


def test_two_sites_with_identical_locations_give_rows_differing_only_in_site() -> None:
    page = [loc(occupancy=0.5, expected_inventory_objects=[{"sku": "S", "quantity": 2}])]

    paris, lyon = flat("paris-dc", page), flat("lyon-dc", page)

    for table in ("locations", "objects"):
        paris_rows, lyon_rows = getattr(paris, table), getattr(lyon, table)
        assert [row["site"] for row in paris_rows] == ["paris-dc"]
        assert [row["site"] for row in lyon_rows] == ["lyon-dc"]
        assert [{**row, "site": None} for row in paris_rows] == [{**row, "site": None} for row in lyon_rows]
    assert set(keys(paris.locations)).isdisjoint(keys(lyon.locations))


def test_a_locations_own_site_field_becomes_location_site() -> None:
    rows = flat_one(loc(site={"code": "P1"}, expected_inventory_objects=[{"sku": "S"}]))

    assert rows.locations[0]["site"] == SITE
    assert rows.locations[0]["location_site"] == '{"code":"P1"}'
    assert "location_site" not in rows.objects[0]  # a non-key field of the location stays on its row
    assert rows.objects[0]["site"] == SITE


def test_a_locations_site_never_overwrites_another_of_its_fields() -> None:
    row = flat_one(loc(site="theirs", location_site="also theirs")).locations[0]

    assert row["site"] == SITE
    assert {"theirs", "also theirs"} <= set(row.values())


@pytest.mark.parametrize("field", ["Site", "SITE", "Name", "LocationType", "location-type", "Aisle", "ScanDate"])
def test_a_field_that_fivetran_would_name_like_a_key_column_is_prefixed(field: str) -> None:
    """Fivetran's naming would land `Site` or `ScanDate` in the `site` or `scan_date` column: a row would move to
    another site, or change its key. Such a field keeps its value under a prefixed name instead."""
    location = loc(**{field: "theirs"}, expected_inventory_objects=[{field: "objects'", "sku": "S"}])

    rows = flat_one(location)

    assert rows.locations[0]["location_" + field] == "theirs"
    assert rows.objects[0]["object_" + field] == "objects'"
    for row in (rows.locations[0], rows.objects[0]):
        assert row["site"] == SITE and row["name"] == "A01-0001-02" and "theirs" not in row.get(field, "")


def test_a_value_nested_deeper_than_orjson_goes_is_still_stored_as_json() -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"level": deep}

    row = flat_one(loc(zoning=deep)).locations[0]

    assert row["zoning"].startswith('{"level":{"level":') and row["zoning"].count("{") == 300


def test_a_prefixed_field_never_lands_in_the_column_of_another_field() -> None:
    """`Name` would become `object_Name`, which Fivetran's naming merges with the object's own `object_name`."""
    row = flat_one(loc(expected_inventory_objects=[{"Name": "theirs", "object_name": "also theirs"}])).objects[0]

    columns = {column: value for column, value in row.items() if value in ("theirs", "also theirs")}
    assert columns == {"object_object_Name": "theirs", "object_name": "also theirs"}


def test_a_field_named_with_nothing_gets_a_name() -> None:
    """A column cannot be named "": the warehouse refuses the whole batch, and with it every site."""
    rows = flat_one(loc(**{"": "x"}, expected_inventory_objects=[{"": "y", "unnamed": "z"}]))

    assert "" not in rows.locations[0] and rows.locations[0]["unnamed"] == "x"
    assert "" not in rows.objects[0] and (rows.objects[0]["unnamed"], rows.objects[0]["object_unnamed"]) == ("z", "y")


def test_a_field_named_like_a_connector_column_but_for_its_accents_is_kept_apart() -> None:
    """Fivetran's naming drops accents: `sïte` would land in `site`, `nàme` (sent first) in the key's `name`."""
    location = {"nàme": "H2", **loc(), "sïte": "X1", "round_started_àt": "1999-01-01T00:00:00Z"}

    row = flat_one(location).locations[0]

    assert (row["site"], row["name"], row[ROUND_STARTED_AT]) == (SITE, "A01-0001-02", ROUND)
    assert (row["location_nàme"], row["location_sïte"], row["location_round_started_àt"]) == (
        "H2",
        "X1",
        "1999-01-01T00:00:00Z",
    )


@pytest.mark.parametrize("missing", ["absent", None])
def test_a_location_without_a_site_field_needs_none(missing: Any) -> None:
    location = loc() if missing == "absent" else loc(site=missing)

    rows = flat_one(location)

    assert rows.skipped == []
    assert rows.locations[0]["site"] == SITE


# ---------------------------------------------------------------------------------------------------- scan_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-03T08:15:30Z", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T08:15:30z", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T08:15:30+00:00", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T10:15:30+02:00", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T01:15:30-07:00", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T01:00:00+02:00", datetime(2026, 11, 2, 23, 0, 0, tzinfo=UTC)),  # crosses midnight backwards
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, 0, tzinfo=UTC)),  # crosses a year forwards
        ("2026-11-03T08:15:30", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),  # naive means UTC
        ("2026-11-03 08:15:30", datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2026-11-03T08:15:30.5Z", datetime(2026, 11, 3, 8, 15, 30, 500_000, tzinfo=UTC)),
        ("2026-11-03T08:15:30.123Z", datetime(2026, 11, 3, 8, 15, 30, 123_000, tzinfo=UTC)),
        ("2026-11-03T08:15:30.123456Z", datetime(2026, 11, 3, 8, 15, 30, 123_456, tzinfo=UTC)),
        ("2026-11-03T10:15:30.123456+02:00", datetime(2026, 11, 3, 8, 15, 30, 123_456, tzinfo=UTC)),
        ("0999-01-02T03:04:05Z", datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_scan_date_is_an_aware_utc_datetime_of_the_same_instant(raw: str, expected: datetime) -> None:
    assert_utc(normalise_timestamp(raw), expected)
    assert_utc(flat_one(loc(scan_date=raw)).locations[0]["scan_date"], expected)


def test_same_instant_in_different_zones_gives_the_same_key() -> None:
    first, second = (flat(SITE, [loc(scan_date=raw)]) for raw in ("2026-11-03T08:15:30Z", "2026-11-03T09:15:30+01:00"))

    assert keys(first.locations) == keys(second.locations)
    assert first.locations[0]["scan_date"].isoformat() == second.locations[0]["scan_date"].isoformat()


@pytest.mark.parametrize("raw", ["yesterday", "", "2026-13-01T00:00:00Z", "2026-11-03T25:00:00Z", "03/11/2026"])
def test_normalise_timestamp_rejects_unreadable_strings(raw: str) -> None:
    assert normalise_timestamp(raw) is None


@pytest.mark.parametrize("raw", [1_700_000_000, 1.5, ["2026-11-03T08:15:30Z"], {"at": "x"}, True])
def test_normalise_timestamp_rejects_non_strings(raw: Any) -> None:
    assert normalise_timestamp(raw) is None


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_scan_date_is_skipped_not_raised(raw: str) -> None:
    rows = flat(SITE, [loc(scan_date=raw), loc(name="B")])

    assert [row["name"] for row in rows.locations] == ["B"]
    assert [skip.kind for skip in rows.skipped] == [SKIP_LOCATION_BAD_SCAN_DATE]


# ---------------------------------------------------------------------------------------------------- object rows


def test_object_rows_carry_parent_key_and_index() -> None:
    objects = [
        {"sku": "SKU-1", "quantity": 3, "dimensions_mm": {"w": 2, "l": 1}},
        {"marker": "MK1", "client": None},
    ]
    rows = flat_one(loc(status="ok", expected_inventory_objects=objects))

    assert rows.objects == [
        {**parent(), OBJECT_INDEX: 0, "sku": "SKU-1", "quantity": 3, "dimensions_mm": '{"l":1,"w":2}'},
        {**parent(), OBJECT_INDEX: 1, "marker": "MK1", "client": None},
    ]
    assert "status" not in rows.objects[0]  # parent's non-key fields stay on the location row
    assert rows.skipped == []


def test_object_rows_use_the_normalised_scan_date() -> None:
    rows = flat_one(loc(scan_date="2026-11-03T10:15:30+02:00", expected_inventory_objects=[{"sku": "S"}]))

    assert_utc(rows.objects[0]["scan_date"], datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC))


def test_object_field_named_like_a_parent_column_is_prefixed() -> None:
    item = {
        "site": "Paris North",
        "name": "Widget",
        "aisle": "X9",
        "scan_date": "2020-01-01",
        "location_type": "box",
        "sku": "S",
    }
    row = flat_one(loc(expected_inventory_objects=[item])).objects[0]

    assert row == {
        **parent(),
        OBJECT_INDEX: 0,
        "object_site": "Paris North",
        "object_name": "Widget",
        "object_aisle": "X9",
        "object_scan_date": "2020-01-01",
        "object_location_type": "box",
        "sku": "S",
    }


def test_object_with_both_name_and_object_name_keeps_both_distinct() -> None:
    for item in ({"name": "N", "object_name": "ON"}, {"object_name": "ON", "name": "N"}):
        row = flat_one(loc(expected_inventory_objects=[item])).objects[0]

        assert row["name"] == "A01-0001-02"
        assert row["object_name"] == "ON"
        assert row["object_object_name"] == "N"


def test_object_with_both_site_and_object_site_keeps_both_distinct() -> None:
    row = flat_one(loc(expected_inventory_objects=[{"site": "S", "object_site": "OS"}])).objects[0]

    assert (row["site"], row["object_site"], row["object_object_site"]) == (SITE, "OS", "S")


def test_object_field_named_object_index_is_prefixed() -> None:
    row = flat_one(loc(expected_inventory_objects=[{"sku": "a"}, {"object_index": 99}])).objects[1]

    assert row[OBJECT_INDEX] == 1
    assert row["object_object_index"] == 99


def test_prefixing_never_overwrites_another_field() -> None:
    item = {
        "name": "N",
        "object_name": "ON",
        "object_object_name": "OON",
        "object_index": 5,
        "object_object_index": 6,
        "site": "S",
        "object_site": "OS",
    }
    row = flat_one(loc(expected_inventory_objects=[item])).objects[0]

    values = [row[column] for column in row if column not in (*KEY_FIELDS, OBJECT_INDEX, ROUND_STARTED_AT)]
    assert sorted(values, key=str) == sorted(item.values(), key=str)
    assert row["name"] == "A01-0001-02"
    assert row["site"] == SITE
    assert row[OBJECT_INDEX] == 0


def test_identical_objects_give_two_rows_differing_only_in_index() -> None:
    item = {"sku": "SKU-1", "quantity": 2}
    rows = flat_one(loc(expected_inventory_objects=[item, dict(item)]))

    assert len(rows.objects) == 2
    assert [row[OBJECT_INDEX] for row in rows.objects] == [0, 1]
    first, second = ({k: v for k, v in row.items() if k != OBJECT_INDEX} for row in rows.objects)
    assert first == second


def test_empty_object_gives_a_row_with_only_parent_key_and_index() -> None:
    assert flat_one(loc(expected_inventory_objects=[{}])).objects == [{**parent(), OBJECT_INDEX: 0}]


@pytest.mark.parametrize("objects", ["absent", None, []])
def test_missing_none_or_empty_objects_give_no_object_rows_and_no_skip(objects: Any) -> None:
    location = loc() if objects == "absent" else loc(expected_inventory_objects=objects)

    rows = flat_one(location)

    assert len(rows.locations) == 1
    assert rows.objects == []
    assert rows.skipped == []


# ---------------------------------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("item", [None, "A01-0001-02", 42, ["name", "x"], 1.5])
def test_location_that_is_not_an_object_is_skipped(item: Any) -> None:
    rows = flat(SITE, [loc(name="before"), item, loc(name="after")])

    assert [row["name"] for row in rows.locations] == ["before", "after"]
    assert len(rows.skipped) == 1
    assert rows.skipped[0].kind == SKIP_LOCATION_NOT_OBJECT
    assert rows.skipped[0].detail == f"item 1 is {type(item).__name__}"


@pytest.mark.parametrize("field", LOCATION_KEY)
@pytest.mark.parametrize("how", ["absent", "none"])
def test_location_missing_a_key_field_is_skipped(field: str, how: str) -> None:
    location = loc(expected_inventory_objects=[{"sku": "S"}])
    if how == "absent":
        del location[field]
    else:
        location[field] = None

    rows = flat(SITE, [location, loc(name="ok")])

    assert [row["name"] for row in rows.locations] == ["ok"]
    assert rows.objects == []  # a skipped location's objects are skipped with it
    assert len(rows.skipped) == 1
    assert rows.skipped[0].kind == SKIP_LOCATION_MISSING_KEY
    assert rows.skipped[0].detail == f"item 0 lacks {field}"


def test_missing_key_skip_names_every_missing_field() -> None:
    rows = flat_one({"name": "x", "aisle": None})

    assert rows.skipped[0].kind == SKIP_LOCATION_MISSING_KEY
    assert rows.skipped[0].detail == "item 0 lacks location_type, aisle, scan_date"


@pytest.mark.parametrize("scan_date", ["not a date", "", "2026-02-30T00:00:00Z", 1_700_000_000, 17.5, ["x"], {"a": 1}])
def test_location_with_unparsable_scan_date_is_skipped(scan_date: Any) -> None:
    location = loc(scan_date=scan_date, expected_inventory_objects=[{"sku": "S"}])

    rows = flat(SITE, [location, loc(name="ok")])

    assert [row["name"] for row in rows.locations] == ["ok"]
    assert rows.objects == []
    assert len(rows.skipped) == 1
    assert rows.skipped[0].kind == SKIP_LOCATION_BAD_SCAN_DATE
    assert "A01-0001-02" in rows.skipped[0].detail
    assert repr(scan_date) in rows.skipped[0].detail


@pytest.mark.parametrize("objects", [{"sku": "S"}, "[]", 3, True])
def test_objects_not_a_list_skips_objects_but_location_row_lands(objects: Any) -> None:
    rows = flat_one(loc(expected_inventory_objects=objects))

    assert rows.locations == [parent()]
    assert rows.objects == []
    assert len(rows.skipped) == 1
    assert rows.skipped[0].kind == SKIP_OBJECTS_NOT_LIST
    assert type(objects).__name__ in rows.skipped[0].detail
    assert "A01-0001-02" in rows.skipped[0].detail


def test_object_that_is_not_an_object_is_skipped_and_siblings_land() -> None:
    objects = [{"sku": "first"}, "junk", None, 7, ["x"], {"sku": "last"}]

    rows = flat_one(loc(expected_inventory_objects=objects))

    assert len(rows.locations) == 1
    assert [(row[OBJECT_INDEX], row["sku"]) for row in rows.objects] == [(0, "first"), (5, "last")]
    assert [skip.kind for skip in rows.skipped] == [SKIP_OBJECT_NOT_OBJECT] * 4
    assert [skip.detail for skip in rows.skipped] == [
        "location 'A01-0001-02' object 1 is str",
        "location 'A01-0001-02' object 2 is NoneType",
        "location 'A01-0001-02' object 3 is int",
        "location 'A01-0001-02' object 4 is list",
    ]


def test_a_page_mixing_good_and_bad_locations_keeps_order_and_reports_each_skip() -> None:
    page = [
        loc(name="L0", expected_inventory_objects=[{"sku": "a"}]),
        "oops",
        loc(name="L2", scan_date="bad"),
        {"name": "L3"},
        loc(name="L4", expected_inventory_objects="nope"),
        loc(name="L5", expected_inventory_objects=[1, {"sku": "b"}]),
    ]

    rows = flat(SITE, page)

    assert [row["name"] for row in rows.locations] == ["L0", "L4", "L5"]
    assert [(row["name"], row["sku"]) for row in rows.objects] == [("L0", "a"), ("L5", "b")]
    assert [skip.kind for skip in rows.skipped] == [
        SKIP_LOCATION_NOT_OBJECT,
        SKIP_LOCATION_BAD_SCAN_DATE,
        SKIP_LOCATION_MISSING_KEY,
        SKIP_OBJECTS_NOT_LIST,
        SKIP_OBJECT_NOT_OBJECT,
    ]


def test_empty_page_gives_nothing() -> None:
    assert flat(SITE, []) == FlatRows()


# ---------------------------------------------------------------------------------------------------- numeric columns


@pytest.mark.parametrize(("raw", "expected"), [(0.5, 0.5), (1, 1), (None, None), ("0.25", 0.25), (" 1 ", 1.0)])
def test_declared_number_column_keeps_numbers_and_parses_numeric_text(raw: Any, expected: float | None) -> None:
    rows = flat_one(loc(occupancy=raw, expected_inventory_objects=[{"expected_weight_g": raw}]))

    assert rows.locations[0]["occupancy"] == expected
    assert rows.objects[0]["expected_weight_g"] == expected
    assert rows.skipped == []


@pytest.mark.parametrize(
    "raw", ["full", "", "nan", "inf", "1_000", "\uff11\uff12", float("inf"), float("-inf"), True, False, {"v": 1}, [1]]
)
def test_declared_number_column_with_a_non_number_is_nulled_and_the_row_lands(raw: Any) -> None:
    rows = flat_one(loc(occupancy=raw, expected_inventory_objects=[{"sku": "S", "expected_weight_g": raw}]))

    assert rows.locations[0]["occupancy"] is None
    assert rows.objects[0]["expected_weight_g"] is None
    assert rows.objects[0]["sku"] == "S"
    assert [skip.kind for skip in rows.skipped] == [NULLED_NOT_A_NUMBER, NULLED_NOT_A_NUMBER]
    assert "occupancy" in rows.skipped[0].detail and "A01-0001-02" in rows.skipped[0].detail
    assert "expected_weight_g" in rows.skipped[1].detail and "object 0" in rows.skipped[1].detail


def test_number_check_applies_only_to_its_own_table() -> None:
    rows = flat_one(loc(expected_weight_g="heavy", expected_inventory_objects=[{"occupancy": "full"}]))

    assert rows.locations[0]["expected_weight_g"] == "heavy"  # not a declared number on locations
    assert rows.objects[0]["occupancy"] == "full"  # nor occupancy on objects
    assert rows.skipped == []


# ---------------------------------------------------------------------------------------------- keys delivered twice


def test_a_location_key_delivered_again_supersedes_the_objects_only_its_earlier_copy_had() -> None:
    delivered = DeliveredKeys()
    first = flatten_locations(
        SITE, ROUND, [loc(expected_inventory_objects=[{"quantity": n} for n in range(5)])], delivered
    )
    again = flatten_locations(
        SITE, ROUND, [loc(expected_inventory_objects=[{"quantity": 7}, {"quantity": 8}])], delivered
    )

    assert first.superseded == [] and first.duplicates == []
    assert [row["quantity"] for row in again.objects] == [7, 8]
    key = {name: value for name, value in parent().items() if name != ROUND_STARTED_AT}
    assert again.superseded == [{**key, OBJECT_INDEX: index} for index in (2, 3, 4)]
    assert len(again.duplicates) == 1 and "'A01-0001-02'" in again.duplicates[0]


def test_a_later_copy_with_more_objects_supersedes_nothing_and_each_sync_starts_unaware() -> None:
    delivered = DeliveredKeys()
    page = [loc(expected_inventory_objects=[{"sku": "a"}]), loc(expected_inventory_objects=[{"sku": "a"}, {}])]

    rows = flatten_locations(SITE, ROUND, page, delivered)
    next_sync = flatten_locations(SITE, ROUND, page[:1], DeliveredKeys())

    assert rows.superseded == [] and len(rows.duplicates) == 1
    assert next_sync.duplicates == []


def test_a_position_the_later_copy_cannot_read_no_longer_holds_the_earlier_copys_object() -> None:
    delivered = DeliveredKeys()
    flatten_locations(SITE, ROUND, [loc(expected_inventory_objects=[{"quantity": 5}, {"quantity": 7}])], delivered)

    later = flatten_locations(SITE, ROUND, [loc(expected_inventory_objects=["junk", {"quantity": 1}])], delivered)

    key = {name: value for name, value in parent().items() if name != ROUND_STARTED_AT}
    assert later.superseded == [{**key, OBJECT_INDEX: 0}]
    assert [(row[OBJECT_INDEX], row["quantity"]) for row in later.objects] == [(1, 1)]


@pytest.mark.parametrize(
    "copies",
    [
        [[{"quantity": 1}] * 3, [{"quantity": 2}], [{"quantity": 10}, {"quantity": 20}, {"quantity": 30}]],
        [[], [{"quantity": 10}, {"quantity": 20}, {"quantity": 30}]],
    ],
)
def test_a_key_a_page_holds_more_than_once_lands_in_its_last_copy_alone(copies: list[list[dict[str, Any]]]) -> None:
    delivered = DeliveredKeys()
    flatten_locations(SITE, ROUND, [loc(expected_inventory_objects=[{"quantity": 0}] * 2)], delivered)

    page = [loc(name="before", expected_inventory_objects=[{"sku": "kept"}])]
    page += [loc(expected_inventory_objects=objects) for objects in copies]
    rows = flatten_locations(SITE, ROUND, page, delivered)

    assert [row["name"] for row in rows.locations] == ["before", "A01-0001-02"]  # the rows around the copies stay
    landed = [(row["name"], row[OBJECT_INDEX], row.get("quantity")) for row in rows.objects]
    assert landed == [("before", 0, None), *(("A01-0001-02", n, 10 * (n + 1)) for n in range(3))]
    assert rows.superseded == []  # nothing the last copy upserts is deleted after it
    assert len(rows.duplicates) == len(copies)


def test_a_key_an_earlier_sync_of_the_round_may_have_delivered_supersedes_without_being_counted() -> None:
    earlier = KeyFilter()
    earlier.add(location_key(parent()))
    delivered = DeliveredKeys(Earlier(earlier, widest=3))

    rows = flatten_locations(SITE, ROUND, [loc(expected_inventory_objects=[{"sku": "a"}])], delivered)

    key = {name: value for name, value in parent().items() if name != ROUND_STARTED_AT}
    assert rows.superseded == [{**key, OBJECT_INDEX: 1}, {**key, OBJECT_INDEX: 2}]
    assert rows.duplicates == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"name": 123}, {"name": "123"}),  # the warehouse's key is text
        ({"scan_date": "2026-11-03T08:15:30.1234561Z"}, {"scan_date": "2026-11-03T08:15:30.1234569Z"}),  # below 1 µs
    ],
)
def test_keys_the_warehouse_would_merge_are_counted_as_the_same_key(one: dict[str, Any], other: dict[str, Any]) -> None:
    rows = flat(SITE, [loc(**one), loc(**other)])

    assert len(set(keys(rows.locations))) == 1
    assert len(rows.duplicates) == 1


def test_a_nul_in_a_key_field_is_replaced_visibly_so_keys_stay_distinct() -> None:
    rows = flat(SITE, [loc(name="N\u0000UL", aisle="A\u0000"), loc(name="NUL", aisle="A")])

    assert [(row["name"], row["aisle"]) for row in rows.locations] == [("N\ufffdUL", "A\ufffd"), ("NUL", "A")]
    assert rows.duplicates == []


def test_every_row_carries_the_round_and_an_api_field_of_that_name_is_kept_apart() -> None:
    rows = flat(SITE, [loc(round_started_at="theirs", expected_inventory_objects=[{"round_started_at": 1}])])

    assert rows.locations[0][ROUND_STARTED_AT] == ROUND == rows.objects[0][ROUND_STARTED_AT]
    assert rows.locations[0]["location_round_started_at"] == "theirs"
    assert rows.objects[0]["object_round_started_at"] == 1


# ---------------------------------------------------------------------------------------------------- simulator data


def test_flattening_simulator_data_matches_ground_truth() -> None:
    count = 2000
    truth = ground_truth(3, count)

    rows = flat(SITE, list(locations(3, 0, count)))

    assert rows.skipped == []
    assert len(rows.locations) == truth.locations == count
    assert len(rows.objects) == truth.objects
    location_keys = set(keys(rows.locations))
    assert len(location_keys) == count
    assert all(row["site"] == SITE for row in (*rows.locations, *rows.objects))
    assert all(isinstance(row[key], str) for row in rows.locations for key in LOCATION_KEY[:-1])
    assert all(row["scan_date"].tzinfo is UTC for row in rows.locations)
    assert all(isinstance(row["zoning"], str) and isinstance(row["scanned_markers"], str) for row in rows.locations)
    robots = [row["robot"] for row in rows.locations if "robot" in row]  # a field the connector does not know
    assert robots and all(robot.startswith('{"firmware":') for robot in robots)
    # every object row points at a location row that landed
    assert set(keys(rows.objects)) <= location_keys
    # object rows of one location are numbered 0..n-1
    per_location: dict[tuple[Any, ...], list[int]] = {}
    for row in rows.objects:
        per_location.setdefault(tuple(row[key] for key in KEY_FIELDS), []).append(row[OBJECT_INDEX])
    assert all(indexes == list(range(len(indexes))) for indexes in per_location.values())


def test_sites_whose_locations_share_keys_land_distinct_rows() -> None:
    count = 200
    paris = flat("paris-dc", list(locations(3, 0, count, shared=count)))
    lyon = flat("lyon-dc", list(locations(4, 0, count, shared=count)))

    def without_site(rows: list[Row]) -> set[tuple[Any, ...]]:
        return {tuple(row[key] for key in LOCATION_KEY) for row in rows}

    assert without_site(paris.locations) == without_site(lyon.locations)  # the API's keys collide across sites
    assert set(keys(paris.locations)).isdisjoint(keys(lyon.locations))
    assert len(set(keys(paris.locations)) | set(keys(lyon.locations))) == 2 * count
