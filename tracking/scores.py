"""How a score is stored, so that every value an executor reports comes back as it went in.

Executors report finite numbers, NaN and infinities from real training, and text such
as Auptimizer's ``'EARLY STOPPED'``. SQLite cannot store NaN (it turns it into NULL)
and "best" must only ever consider finite numbers, so a score lives in two columns:

- ``<name>``: the value when it is a finite number, else NULL. Ordering, best-of and
  charts read only this column, and its index, so non-finite values never win.
- ``<name>_text``: NULL for a finite number or no score; otherwise ``'nan'``, ``'inf'``
  or ``'-inf'`` for a non-finite number, or the text itself.

A string that Python reads as a number (``'1.5'``, ``' 2 '``, ``'nan'``) is stored as that
number, as SQLite's REAL affinity does for decimal text.
"""

import math
import numbers

from tracking.interface import InvalidInputError, check_storable

NON_FINITE_SPELLINGS = ("nan", "inf", "-inf")


class ScoreTypeError(ValueError):
    pass


def _checked(value):
    """`value` itself if it is a string, else as a float; ScoreTypeError for any other type."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ScoreTypeError(f"a score must be a number, a string or None, not {type(value).__name__}")
    if isinstance(value, str):
        try:
            return check_storable(value, "a score text")
        except InvalidInputError as exc:  # a score's own error, which each caller names
            raise ScoreTypeError(str(exc)) from None
    try:
        return float(value)
    except OverflowError:
        raise ScoreTypeError(f"a score must fit in a 64-bit float; {value} does not") from None


def _spelling(number):
    return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")


def encode_score(value):
    """Split a reported value into its (number, text) columns; raise ScoreTypeError for other types."""
    if value is None:
        return None, None
    value = _checked(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None, value
    else:
        number = value
    if math.isfinite(number):
        return number, None
    return None, _spelling(number)


def decode_score(number, text):
    """Inverse of encode_score: the value as the executor reported it (ints come back as floats)."""
    if text is None:
        return number
    if text in NON_FINITE_SPELLINGS:
        return float(text)
    return text


# -- on the wire (the REST API and RestConnector) ------------------------------------------
# JSON has no NaN or infinity: they travel as their spellings, 'nan', 'inf' and '-inf'. A
# text that Python reads as a number is stored as that number (see encode_score), so a
# spelling sent as text loses nothing.


def to_wire(value):
    """A score as JSON carries it: None, a float (ints too), a text as it is, or the spelling
    of a non-finite number; ScoreTypeError for other types, or an int no float holds."""
    if value is None:
        return None
    value = _checked(value)
    if isinstance(value, str) or math.isfinite(value):
        return value
    return _spelling(value)


def from_wire(value):
    """Inverse of to_wire: a spelling of a non-finite number back to the float; anything else as it came."""
    if isinstance(value, str) and value in NON_FINITE_SPELLINGS:
        return float(value)
    return value
