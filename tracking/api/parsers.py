"""Request body parsing."""

import codecs
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json


def finite_float(text):
    """A JSON number with a fraction or an exponent, as a float; ValueError if no 64-bit
    float holds it. Python reads 1e999 as infinity, but JSON has no infinity: a number that
    overflows is a mistake (the wire spelling of an infinite score is the text 'inf', see
    tracking.scores.to_wire), never stored as inf. (1e-999 reads as 0.0: rounding, kept.)"""
    value = float(text)
    if math.isinf(value):
        raise ValueError(
            f"the number {text[:40]} is too large for a 64-bit float "
            "(an infinite score is sent as the text 'inf' or '-inf')"
        )
    return value


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser (no NaN or Infinity literals), that also refuses a number
    too large for a float (1e999) and a body nested too deep for Python's parser with a 400
    instead of storing inf, or a RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            decoded_stream = codecs.getreader(encoding)(stream)
            parse_constant = json.strict_constant if self.strict else None
            return json.load(decoded_stream, parse_constant=parse_constant, parse_float=finite_float)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None
