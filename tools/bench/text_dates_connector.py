"""The real connector with the old row form, for `make bench`: `scan_date` upserted as ISO text, not a datetime.

Until the row form changed, `flatten_locations` gave `scan_date` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` text, which the SDK
parses again with `strptime` for every row of both tables; it now gives an aware UTC datetime, which the SDK takes as
it is. To measure what that saves, `tools.bench` stages this module as the `connector.py` of a project whose real
connector is importable as `connector`: the sync is the real one (`Sync.run()`: the extractor thread, `consume()`,
`finish()`), except that `consume()` turns each page's datetimes back into the old text before the upserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from fivetran_connector_sdk import Connector

from connector import OperationsSink, Sync, schema, sync_context
from dexory_async.config import parse_settings
from dexory_async.flatten import FlatRows
from dexory_async.messages import Item
from dexory_async.page import Page

SCAN_DATE = "scan_date"


def old_text(moment: datetime) -> str:
    """The old form of a normalised UTC timestamp: `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_old_form(rows: FlatRows) -> FlatRows:
    """The same rows, `scan_date` as the old text (in place: the page is the consumer's alone). An object row shares
    its location's datetime, and gets the same string, as it did when flatten made the text once per location."""
    texts: dict[datetime, str] = {}
    for table in (rows.locations, rows.objects):
        for row in table:
            moment = row[SCAN_DATE]
            text = texts.get(moment)
            if text is None:
                text = texts[moment] = old_text(moment)
            row[SCAN_DATE] = text
    return rows


def old_form_items(items: Iterable[Item]) -> Iterator[Item]:
    for item in items:
        if isinstance(item, Page):
            to_old_form(item.rows)
        yield item


class OldRowFormSync(Sync):
    def consume(self, items: Iterable[Item]) -> None:
        super().consume(old_form_items(items))


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    """The real connector's `update()`, with the old row form."""
    sink = OperationsSink()
    with sync_context(configuration, sink) as write_logs:
        OldRowFormSync(parse_settings(configuration), state, sink, write_logs=write_logs).run()


connector = Connector(update=update, schema=schema)
