"""Declared options: their defaults and how their values are checked.

Every parameter a user can pass — to ``create_llm`` or to ``generate`` — is an
:class:`Option`. Core declares the generation parameters and the options every
HuggingFace mode understands; a backend declares its own in its ``BackendInfo``.
Validation happens before anything loads or is sent, and raises
``InvalidArgumentError`` naming the parameter, the value and what is allowed; an
unknown name gets a did-you-mean.

The rules are the same in every mode, and no backend sees a value it cannot handle:
a temperature below :data:`GREEDY_BELOW_TEMPERATURE` is greedy decoding (stored as 0);
a seed is an integer from 0 to :data:`MAX_SEED`; token counts and ``top_k`` fit a C ``int``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from abstractllm.backend.options import Check as Check
from abstractllm.backend.options import Option as Option
from abstractllm.errors import InvalidArgumentError

__all__ = [
    "Option",
    "GENERATION_OPTIONS",
    "COMMON_OPTIONS",
    "validate_options",
    "suggest",
    "check_bool",
    "check_str",
    "check_optional_str",
    "check_dict",
    "check_int",
    "check_float",
    "check_choice",
    "check_stop",
    "check_temperature",
    "check_seed",
    "check_device",
    "is_device",
    "check_nested",
    "GREEDY_BELOW_TEMPERATURE",
    "MAX_SEED",
    "MAX_COUNT",
]


class _Rejected(ValueError):
    """Raised by a check; the message says what is allowed."""


def check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Rejected("True or False")
    return value


def check_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Rejected("a non-empty string")
    return value


def check_optional_str(value: Any) -> str | None:
    return None if value is None else check_str(value)


def check_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise _Rejected("a dict with string keys")
    return dict(value)


def check_int(minimum: int | None = None, maximum: int | None = None, *, optional: bool = True) -> Check:
    """An int (not a bool) within the bounds; ``None`` passes when ``optional``."""
    bounds = _bounds_text(minimum, maximum, "≥", "≤")

    def check(value: Any) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Rejected(f"an integer{bounds}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise _Rejected(f"an integer{bounds}")
        return value

    return check


def check_float(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive_minimum: bool = False,
    optional: bool = True,
) -> Check:
    """A finite number within the bounds (``minimum`` exclusive when asked); ``None`` passes when ``optional``."""
    bounds = _bounds_text(minimum, maximum, ">" if exclusive_minimum else "≥", "≤")

    def check(value: Any) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Rejected(f"a number{bounds}")
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            raise _Rejected(f"a number{bounds}")
        if maximum is not None and value > maximum:
            raise _Rejected(f"a number{bounds}")
        return float(value)

    return check


def check_choice(*choices: str, optional: bool = True) -> Check:
    """One of ``choices`` (compared case-insensitively, returned lower-cased)."""

    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, str) and value.lower() in choices:
            return value.lower()
        raise _Rejected("one of " + ", ".join(repr(choice) for choice in choices))

    return check


def check_stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
        return tuple(value)
    raise _Rejected("a non-empty string or a list of non-empty strings")


#: Temperatures below this decode greedily in every mode (they are stored as 0): sampling at
#: them differs from greedy only by float rounding, and dividing logits by them overflows.
GREEDY_BELOW_TEMPERATURE = 1e-5
#: The largest seed: llama.cpp keeps seeds in 32 bits, so every mode accepts 0 ≤ seed < 2**32.
MAX_SEED = 2**32 - 1
#: The largest token count or ``top_k``: a C ``int`` in the native backends.
MAX_COUNT = 2**31 - 1


def check_temperature(value: Any) -> float:
    """A finite number ≥ 0; below :data:`GREEDY_BELOW_TEMPERATURE` it becomes 0 (greedy)."""
    number = float(_check_non_negative(value))
    return 0.0 if number < GREEDY_BELOW_TEMPERATURE else number


def check_seed(value: Any) -> int | None:
    """``None`` or an integer 0 ≤ seed ≤ :data:`MAX_SEED`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise _Rejected(f"an integer 0 ≤ seed ≤ {MAX_SEED} (2**32 - 1); reduce a larger one with seed % 2**32")
    return value


def is_device(text: str, names: Iterable[str]) -> bool:
    """True when ``text`` is one of the device ``names`` (case-insensitive), alone or with an
    index (``"cuda"``, ``"cuda:1"``): the one device syntax of every mode."""
    name, colon, index = text.strip().lower().partition(":")
    return name in names and (not colon or index.isdigit())


def check_device(*names: str) -> Check:
    """A check for an optional device string of the given ``names`` (see :func:`is_device`);
    returns it lower-cased and stripped."""
    allowed = ", ".join(f"'{name}'" for name in names) + " (or 'name:N')"

    def check(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and is_device(value, names):
            return value.strip().lower()
        raise _Rejected(f"a device: {allowed}")

    return check


def check_nested(check: Check, value: Any, parameter: str) -> Any:
    """``check(value)`` for a value inside an option (``model_kwargs['revision']``, say): what
    it rejects is an ``InvalidArgumentError`` naming ``parameter`` and what is allowed."""
    try:
        return check(value)
    except _Rejected as exc:
        raise InvalidArgumentError(
            f"{parameter}={value!r} is invalid; expected {exc}", parameter=parameter, value=value, allowed=str(exc)
        ) from None


def _bounds_text(minimum: float | None, maximum: float | None, low: str, high: str) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{low} {minimum}")
    if maximum is not None:
        parts.append(f"{high} {maximum}")
    return (" " + " and ".join(parts)) if parts else ""


_check_non_negative = check_float(0.0, optional=False)


GENERATION_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option("temperature", 0.7, check_temperature, "Randomness; 0 means greedy decoding."),
        Option("max_tokens", 512, check_int(1, MAX_COUNT, optional=False), "Most new tokens to generate."),
        Option("top_p", None, check_float(0.0, 1.0, exclusive_minimum=True), "Nucleus sampling mass, 0 < top_p ≤ 1."),
        Option("top_k", None, check_int(0, MAX_COUNT), "Sample from the k most likely tokens; 0 disables."),
        Option(
            "repetition_penalty", None, check_float(0.0, exclusive_minimum=True), "Penalty > 0 for repeated tokens; 1 is none."
        ),
        Option("do_sample", None, lambda v: None if v is None else check_bool(v), "False forces greedy decoding."),
        Option("num_return_sequences", 1, check_int(1, 128, optional=False), "How many completions to return (at most 128)."),
        Option("seed", None, check_seed, "Seed for reproducible sampling."),
        Option("stop", (), check_stop, "Stop sequences; never part of the returned text."),
    )
}

COMMON_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option("model", None, check_optional_str, "Model id on the Hub, a local folder, or a file."),
        Option("model_type", None, check_optional_str, "Mode to use; detected when not given."),
        Option("system_prompt", None, check_optional_str, "System prompt used when a call gives none."),
    )
}


def suggest(name: str, known: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest known name, or ''."""
    import difflib  # on use: only a rejected name needs it

    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def validate_options(
    values: Mapping[str, Any],
    options: Mapping[str, Option],
    *,
    where: str,
    provider: str | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """Check every value against its option and return the normalised values.

    ``where`` names the call for messages (e.g. ``"generate()"``). Unknown names and
    rejected values raise ``InvalidArgumentError`` naming the parameter.
    """
    result: dict[str, Any] = {}
    for raw_name, value in values.items():
        name = raw_name if type(raw_name) is str else str(getattr(raw_name, "value", raw_name))
        option = options.get(name)
        if option is None:
            raise InvalidArgumentError(
                f"{where} got an unknown parameter {name!r}.{suggest(name, options)}"
                f" Known parameters: {', '.join(sorted(options))}",
                provider=provider,
                mode=mode,
                parameter=name,
                value=None,
                allowed=", ".join(sorted(options)),
            )
        try:
            result[name] = option.check(value)
        except InvalidArgumentError as error:  # a check that names a part of the value (``device_map['lm_head']``)
            raise error.with_context(provider=provider, mode=mode) from None
        except ValueError as exc:
            shown = "<hidden>" if option.secret else repr(value)
            raise InvalidArgumentError(
                f"{where}: {name}={shown} is invalid; expected {exc}",
                provider=provider,
                mode=mode,
                parameter=name,
                value=None if option.secret else value,
                allowed=str(exc),
            ) from None
    return result
