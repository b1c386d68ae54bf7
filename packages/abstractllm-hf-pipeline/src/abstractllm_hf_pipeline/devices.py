"""Where the pipeline mode puts a model: torch devices and the one rule for ``device_map``.

Only this mode runs torch, so these rules are its own (core declares the ``device`` option every
local mode shares; its syntax is :func:`abstractllm.options.check_device`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abstractllm.errors import InvalidArgumentError
from abstractllm.options import Option, is_device, suggest

__all__ = ["DEVICE_MAP_OPTION", "DEVICE_MAP_STRATEGIES", "TORCH_DEVICES", "check_device_map", "device_place"]

#: Devices torch runs on; a ``device_map`` place may also be ``"disk"``.
TORCH_DEVICES = ("cpu", "cuda", "mps", "xpu")

#: ``device_map`` strings accelerate plans a placement for.
DEVICE_MAP_STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def device_place(value: Any) -> str | int | None:
    """``value`` as a ``device_map`` place (a GPU index, or a device name such as ``"cuda:1"``
    or ``"disk"``, lower-cased), or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value) if type(value).__name__ == "device" else value  # a torch.device, without importing torch
    if isinstance(text, str) and is_device(text, (*TORCH_DEVICES, "disk")):
        return text.strip().lower()
    return None


def check_device_map(value: Any, parameter: str = "device_map") -> str | dict[str, str | int] | None:
    """The one rule for ``device_map``: a strategy (``'auto'``...), one device for the whole
    model, or a flat dict of module name to place (see :func:`device_place`), normalised.

    Raises ``InvalidArgumentError`` naming ``parameter`` (or ``parameter['module']``) and the fix.
    Whether the devices exist on this machine is the backend's check, at load.
    """
    if value is None:
        return None
    allowed = f"one of {', '.join(map(repr, DEVICE_MAP_STRATEGIES))}, a device such as 'cpu' or 'cuda:0', or a dict"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in DEVICE_MAP_STRATEGIES or (device_place(text) is not None and text != "disk"):
            return text
        raise InvalidArgumentError(
            f"{parameter}={value!r} is not a device map; use {allowed} of module name to device"
            f"{suggest(text, DEVICE_MAP_STRATEGIES)}",
            parameter=parameter,
            value=value,
            allowed=allowed,
        )
    if isinstance(value, Mapping) and value:
        places: dict[str, str | int] = {}
        for key, item in value.items():
            place = device_place(item)
            if not isinstance(key, str) or place is None:
                raise InvalidArgumentError(
                    f"{parameter}[{key!r}]={item!r} is invalid; a device map is flat: each module name (a string, ''"
                    " for the whole model) maps to a GPU index or to 'cpu', 'cuda:N', 'mps' or 'disk'",
                    parameter=f"{parameter}[{key!r}]",
                    value=item,
                    allowed="a GPU index or 'cpu', 'cuda:N', 'mps', 'disk'",
                )
            places[key] = place
        return places
    raise InvalidArgumentError(
        f"{parameter}={value!r} is invalid; use {allowed} of module name to device",
        parameter=parameter,
        value=value,
        allowed=allowed,
    )


DEVICE_MAP_OPTION = Option(
    "device_map",
    None,
    check_device_map,
    "accelerate device map: 'auto' (or 'balanced', 'balanced_low_0', 'sequential'), one device, or a dict"
    " of module name to device.",
)
