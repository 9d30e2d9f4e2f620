"""Durations as the CLI accepts them: a whole number and a unit, `90s`, `15m`, `6h`, `2d`."""

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

def parse_duration(text):
    """(seconds, None) for a valid duration or the empty string (0), else (None, why)."""
    if text == "":
        return (0, None)
    number = text[:-1]
    unit = text[-1:]
    if unit not in _UNIT_SECONDS or not number.isdigit():
        return (None, "%r is not a duration: use a whole number followed by s, m, h or d, e.g. 90s, 15m, 6h, 2d" % text)
    return (int(number) * _UNIT_SECONDS[unit], None)
