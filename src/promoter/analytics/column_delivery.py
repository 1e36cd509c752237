"""Delivery counts with a filter, their answered part from the columns: of the surveys
sent in the window and answered, those whose response matches the filter, found by when
each response's survey was sent (``ResponseColumns.surveys_sent``) and decided by the
column engine as the NPS is.

The columns hold a response per answered survey; they are trusted for a window only when
they count as many answered surveys sent in it as the database does (a survey's row can
change without its response, see ``surveys_sent``); else the sending times are read again,
at most once every ``REREAD_SECONDS``, and meanwhile SQL decides.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection

from promoter.analytics import column_engine
from promoter.analytics.numpy_arrays import Ints, micros
from promoter.analytics.query import Scope
from promoter.analytics.response_columns import ResponseColumns

REREAD_SECONDS = 60.0


def answered_matching(
    conn: Connection, scope: Scope, columns: ResponseColumns, answered: int
) -> int | None:
    """How many of the ``answered`` surveys sent in the scope's window (of its campaigns)
    have a response that matches its filter; None when the columns do not hold exactly
    ``answered`` responses to such surveys."""
    positions = _answered_in_window(conn, scope, columns)
    if len(positions) != answered and columns.surveys_sent_age() > REREAD_SECONDS:
        columns.forget_surveys_sent()
        positions = _answered_in_window(conn, scope, columns)
    if len(positions) != answered:
        return None
    return int(np.count_nonzero(column_engine.filter_mask(conn, scope, columns, positions)))


def _answered_in_window(conn: Connection, scope: Scope, columns: ResponseColumns) -> Ints:
    """Positions of the responses whose survey was sent in the window and is answered."""
    sent = columns.surveys_sent(conn)
    keep = (sent >= micros(scope.window.since)) & (sent < micros(scope.window.until))
    if scope.query.campaign_ids:
        keep &= np.isin(columns.campaign[: columns.size], scope.query.campaign_ids)
    return np.flatnonzero(keep)
