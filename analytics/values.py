"""Cell values as JSON: for the grid, the API and anything else that sends rows out."""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math


def jsonable(value):
    """A cell as JSON: dates as ISO text, NaN as null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, dict)):
        return json.loads(json.dumps(value, default=str))
    return value
