"""When to retry a request and how long to wait first."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # on use: it brings socket, calendar and locale

        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: at most ``max_retries`` after the first attempt.

    The wait before retry ``attempt`` (0-based) is the server's hint (``Retry-After``, or a
    loading model's ``estimated_time``) when given, else exponential backoff
    ``backoff * 2**attempt`` with jitter (a random wait between half and all of it); every wait is capped at ``max_wait``.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_retries

    def delay(self, attempt: int, hint: float | None = None) -> float:
        if hint is not None:
            return min(hint, self.max_wait)
        ceiling = min(self.backoff * (2**attempt), self.max_wait)
        import random  # on use: only a retry needs it

        return random.uniform(ceiling / 2, ceiling)

    @staticmethod
    def server_hint(status: int, headers: Mapping[str, str], body: Any) -> float | None:
        """The server's own wait hint: ``Retry-After``, or a loading model's ``estimated_time``."""
        hint = parse_retry_after(headers.get("retry-after"))
        if hint is None and status == 503 and isinstance(body, Mapping):
            estimated = body.get("estimated_time")
            if isinstance(estimated, (int, float)) and not isinstance(estimated, bool) and estimated >= 0:
                hint = float(estimated)
        return hint
