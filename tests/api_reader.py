"""The API's truth, read the plainest way: every page of a site with urllib, following `links.next`. Nothing of the
connector is used, so what the models are checked against does not share its mistakes."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from typing import Any

from yarl import URL

from dexory_simulator.pages import LOCATIONS_PATH

LocationKey = tuple[str, str, str, datetime]  # name, location_type, aisle, scan_date


def every_location(base_url: str, site: str, api_key: str, page_size: int = 500) -> list[dict[str, Any]]:
    """Every location the API serves for `site` now, in the order served (a key served twice comes twice)."""
    served: list[dict[str, Any]] = []
    url: str | None = str(URL(base_url).with_path(LOCATIONS_PATH).with_query(site=site, **{"page[size]": page_size}))
    while url is not None:
        with urllib.request.urlopen(str(URL(url).update_query(api_key=api_key)), timeout=30) as response:
            page = json.load(response)
        served.extend(page["data"])
        url = page["links"].get("next")
    return served


def location_key(item: dict[str, Any]) -> LocationKey:
    return (item["name"], item["location_type"], item["aisle"], datetime.fromisoformat(item["scan_date"]))


def current_lists(served: list[dict[str, Any]]) -> dict[LocationKey, list[dict[str, Any]]]:
    """Each location's expected objects; of a key served twice, the later copy."""
    return {location_key(item): list(item.get("expected_inventory_objects") or []) for item in served}
