"""When a running greedy batch should stop so that its rows are regrouped (continuous batching).

A batch that yields hands its unfinished jobs back with their state
(:class:`~abstractllm_hf_pipeline.progress.Resume`); the next batch continues them. That restart
costs a ``generate`` call, the joining rows' prefill and a copy of the rows' key/values, so a batch
yields only when the time it saves is :data:`PAYBACK` times that cost. The engine measures both
sides as it runs: the time of a decoding step and what a call costs beyond its steps.

- Joining (:func:`worth_joining`): requests waiting while a batch runs would otherwise wait for
  the batch to end.
- Leaving (:func:`worth_leaving`): rows that ended (a short reply, a stop sequence) still take part
  in every step of ``generate`` until the batch ends.
"""

from __future__ import annotations

__all__ = ["MIN_STEPS_BEFORE_YIELD", "MIN_STEPS_LEFT", "PAYBACK", "worth_joining", "worth_leaving"]

#: A batch yields only after this many decoding steps, so that a stream of arrivals cannot keep restarting it.
MIN_STEPS_BEFORE_YIELD = 4
#: A batch with fewer decoding steps to go finishes first: yielding would save less than the restart costs.
MIN_STEPS_LEFT = 8
#: A yield must save this many times what the restart costs.
PAYBACK = 8.0


def worth_joining(joining: int, running: int, steps_left: int, step_seconds: float, overhead_seconds: float) -> bool:
    """Whether ``joining`` waiting rows should join a batch of ``running`` rows with ``steps_left`` decoding steps
    to go: the time they would otherwise wait must be :data:`PAYBACK` times what restarting the batch
    (``overhead_seconds``: setup, their prefill, bookkeeping) costs every row, old and new."""
    if joining <= 0 or steps_left < MIN_STEPS_LEFT:
        return False
    return joining * steps_left * step_seconds >= PAYBACK * (running + joining) * overhead_seconds


def worth_leaving(ended: int, rows: int, steps_left: int, step_seconds: float, overhead_seconds: float) -> bool:
    """Whether a batch of ``rows`` rows, ``ended`` of which have ended, should restart without them: every row
    still running saves about the ended rows' share of each of its ``steps_left`` steps, and pays the restart."""
    if ended <= 0 or ended >= rows or steps_left < MIN_STEPS_LEFT:
        return False
    return steps_left * step_seconds * ended / rows >= PAYBACK * overhead_seconds
