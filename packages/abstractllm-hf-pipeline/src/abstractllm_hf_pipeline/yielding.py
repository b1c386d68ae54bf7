"""When a running greedy batch should stop so that its rows are regrouped (continuous batching).

A batch that yields hands its unfinished jobs back with their state
(:class:`~abstractllm_hf_pipeline.progress.Resume`); the next batch continues them. That restart
costs a ``generate`` call, the joining rows' prefill and a copy of the rows' key/values, so a batch
yields only when the time it saves is :data:`PAYBACK` times that cost. :class:`Costs` measures
both sides as batches run: a decoding step, a call's fixed cost, and prefill per token (so that
one long prompt's prefill is not taken for the cost of every restart).

- Joining (:func:`worth_joining`): requests waiting while a batch runs would otherwise wait for
  the batch to end.
- Leaving (:func:`worth_leaving`): rows that ended (a short reply, a stop sequence) still take part
  in every step of ``generate`` until the batch ends.
"""

from __future__ import annotations

__all__ = ["MIN_STEPS_BEFORE_YIELD", "MIN_STEPS_LEFT", "PAYBACK", "Costs", "worth_joining", "worth_leaving"]

#: A batch yields only after this many decoding steps, so that a stream of arrivals cannot keep restarting it.
MIN_STEPS_BEFORE_YIELD = 4
#: A batch with fewer decoding steps to go finishes first: yielding would save less than the restart costs.
MIN_STEPS_LEFT = 8
#: A yield must save this many times what the restart costs.
PAYBACK = 8.0
#: Calls that prefill at most this many tokens measure a call's fixed cost; longer ones, prefill per token.
SHORT_PREFILL = 32
#: Weight of the newest call in the running averages.
WEIGHT = 0.2


class Costs:
    """Running averages, in seconds, of what one loaded model's batches cost: ``step`` (one decoding step),
    ``setup`` (a ``generate`` call's cost beyond its prefill and steps: inputs, caches, bookkeeping) and
    ``per_token`` (prefill, per token of the padded input). All 0 until measured."""

    def __init__(self) -> None:
        self.step = 0.0
        self.setup = 0.0
        self.per_token = 0.0

    def measured(self, *, seconds: float, steps: int, decoding: float, prefilled: int) -> None:
        """Add one call: ``seconds`` in all, ``steps`` tokens per row of which all but the first took ``decoding``
        seconds, after prefilling ``prefilled`` tokens (rows times the new columns)."""
        if steps < 2:
            return
        step = decoding / (steps - 1)
        beyond = max(0.0, seconds - steps * step)  # setup and prefill: the first step's time is its prefill
        self.step = _averaged(self.step, step)
        if prefilled <= SHORT_PREFILL or not self.setup:
            self.setup = _averaged(self.setup, beyond)
        else:
            self.per_token = _averaged(self.per_token, max(0.0, beyond - self.setup) / prefilled)

    def restart(self, tokens: int = 0) -> float:
        """What restarting a batch costs its rows, with ``tokens`` of newcomers' prompts to prefill."""
        return self.setup + self.per_token * tokens


def _averaged(average: float, sample: float) -> float:
    return sample if not average else average + WEIGHT * (sample - average)


def worth_joining(joining: int, running: int, steps_left: int, step_seconds: float, overhead_seconds: float) -> bool:
    """Whether ``joining`` waiting rows should join a batch of ``running`` rows with ``steps_left`` decoding steps
    to go: the time they would otherwise wait must be :data:`PAYBACK` times what restarting the batch
    (``overhead_seconds``: setup and their prefill) costs every row, old and new. Never before a step
    was measured (``step_seconds`` 0)."""
    if joining <= 0 or steps_left < MIN_STEPS_LEFT or not step_seconds:
        return False
    return joining * steps_left * step_seconds >= PAYBACK * (running + joining) * overhead_seconds


def worth_leaving(ended: int, rows: int, steps_left: int, step_seconds: float, overhead_seconds: float) -> bool:
    """Whether a batch of ``rows`` rows, ``ended`` of which have ended, should restart without them: every row
    still running saves about the ended rows' share of each of its ``steps_left`` steps, and pays the restart."""
    if ended <= 0 or ended >= rows or steps_left < MIN_STEPS_LEFT or not step_seconds:
        return False
    return steps_left * step_seconds * ended / rows >= PAYBACK * overhead_seconds
