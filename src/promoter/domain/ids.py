"""The largest ids the tables' key columns hold: an id past them names no row."""

from __future__ import annotations

#: BIGINT keys: contacts, responses, events, orders, deliveries, webhook deliveries.
MAX_BIGINT_ID = 2**63 - 1
#: INTEGER keys: campaigns, contact lists, email templates, segments, webhooks.
MAX_INT_ID = 2**31 - 1
