"""The string formats core checks itself: ``date``, ``time``, ``date-time`` (RFC 3339), ``email``
(RFC 5321's mailbox), ``uuid`` (RFC 4122) and ``ipv4`` (dotted quad, no leading zeros).

The constrained-decoding grammars bound the same six, so a reply is checked by the rules it
was generated under, with or without ``jsonschema``. Each check takes any JSON value and
accepts every non-string (a format applies to strings only).
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Callable
from typing import Any

__all__ = ["FORMATS", "SPEC_FORMATS"]

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:[zZ]|([+-])([0-9]{2}):([0-9]{2}))")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf'{_ATOM}(?:\.{_ATOM})*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _date(value: str) -> bool:
    found = _DATE.fullmatch(value)
    if not found:
        return False
    year, month, day = (int(part) for part in found.groups())
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _time(value: str) -> bool:
    found = _TIME.fullmatch(value)
    if not found:
        return False
    hour, minute, second = int(found[1]), int(found[2]), int(found[3])
    sign, offset_hour, offset_minute = found[4], int(found[5] or 0), int(found[6] or 0)
    if hour > 23 or minute > 59 or second > 60 or offset_hour > 23 or offset_minute > 59:
        return False
    if second == 60:  # a leap second happens at 23:59:60 UTC only
        offset = (offset_hour * 60 + offset_minute) * (-1 if sign == "-" else 1)
        return (hour * 60 + minute - offset) % (24 * 60) == 23 * 60 + 59
    return True


def _date_time(value: str) -> bool:
    date, separator, time = value.partition("T") if "T" in value else value.partition("t")
    return bool(separator) and _date(date) and _time(time)


def _email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or len(local) > 64:
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        return _ipv6(literal[5:]) if literal.startswith("IPv6:") else _ipv4(literal)
    labels = domain.split(".")
    return len(domain) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def _ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(_OCTET.fullmatch(part) and int(part) <= 255 for part in parts)


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return value.isascii() and "%" not in value


def _on_strings(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    def checker(value: Any) -> bool:
        return not isinstance(value, str) or check(value)

    checker.__doc__ = check.__doc__
    return checker


#: Format name to a check of any JSON value (True for every non-string).
FORMATS: dict[str, Callable[[Any], bool]] = {
    name: _on_strings(check)
    for name, check in {
        "date": _date,
        "time": _time,
        "date-time": _date_time,
        "email": _email,
        "uuid": _uuid,
        "ipv4": _ipv4,
    }.items()
}

#: The formats draft 2020-12 defines. One of them that no checker knows is reported as unchecked;
#: any other name is an annotation, as the specification says.
SPEC_FORMATS = frozenset(
    {
        *("date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname"),
        *("ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template"),
        *("json-pointer", "relative-json-pointer", "regex"),
    }
)
