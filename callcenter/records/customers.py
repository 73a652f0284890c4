"""Which customer a call was: the records writer asks whoever keeps the customer index.

The screen-pop room holds every customer in memory (by phone and by account number); the
service hands it to the writer through this Protocol, so filling `customer_id` costs a dict
look-up in the writer task and never a database round trip on the event path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from callcenter.records.rows import Op, RecordOp

log = logging.getLogger(__name__)


class CustomerLookup(Protocol):
    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        """The customer the screen-pop would show for this caller (None: unknown)."""


def fill_customer_ids(lookup: CustomerLookup, ops: Sequence[Op]) -> None:
    """Set `customer_id` on the records of `ops` that have none yet."""
    for op in ops:
        if not isinstance(op, RecordOp) or op.row.get("customer_id") is not None:
            continue
        row: dict[str, Any] = op.row
        try:
            row["customer_id"] = lookup.customer_id(row.get("caller_number"),
                                                    row.get("ivr_data") or {})
        except Exception:
            # A record without its customer beats a record not written.
            log.exception("customer look-up failed for call %s/%s", row.get("pbx"),
                          row.get("uniqueid"))
