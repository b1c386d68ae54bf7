"""What the local modes say when a hub model is not in the cache and the hub cannot give it.

Both local modes (pipeline, gguf) fetch hub models through huggingface_hub's cache; when a
model is missing from it, the reason is one of two, and every mode words it the same way:

* offline mode is on (``HF_HUB_OFFLINE=1``): the hub was not asked;
* the hub at ``HF_ENDPOINT`` could not be reached.

Each message names the model, the cache folder, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE=1``, and
what to do. huggingface_hub is imported on use (only backends that have it call this).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["hub_cache_miss"]


def hub_cache_miss(what: str, cache_dir: str | Path | None, unreachable: BaseException | None) -> str:
    """The message for ``what`` (a repo id, with its file or revision) missing from the hub cache
    (``cache_dir``, or huggingface_hub's default): ``unreachable`` is the error of the attempt to
    reach the hub, or None when offline mode is on and the hub was not asked."""
    from huggingface_hub import constants

    cache = Path(cache_dir or constants.HF_HUB_CACHE).expanduser()
    if unreachable is None:
        return (
            f"{what} is not in the HuggingFace cache ({cache}) and offline mode is on (HF_HUB_OFFLINE=1),"
            f" so the hub was not asked; download it once with the network (unset HF_HUB_OFFLINE; the hub is"
            f" {constants.ENDPOINT}, HF_ENDPOINT names another), or point HF_HOME at a cache that has it"
        )
    return (
        f"{what} is not in the HuggingFace cache ({cache}) and the hub at {constants.ENDPOINT} could not be"
        f" reached ({type(unreachable).__name__}); check the network or HF_ENDPOINT, or download it once,"
        " then set HF_HUB_OFFLINE=1 to load it from the cache without the network"
    )
