"""Finding the GGUF file: a local path, or a file of a hub repo through huggingface_hub's cache.

``HF_HUB_OFFLINE=1`` is honoured by huggingface_hub itself: the repo's files are then
listed from the cached snapshot and nothing touches the network. Online, the repo's
files are listed with one request (``model_info``, no retries, bounded by
``HF_HUB_ETAG_TIMEOUT``); when the hub cannot be reached the cached snapshot is used if
there is one, else ``ProviderConnectionError`` says what to do.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from pathlib import Path

from abstractllm.blocks import hub_cache_miss, progress_only_on_a_terminal
from abstractllm.errors import AuthenticationError, InvalidArgumentError, ModelNotFoundError, ProviderConnectionError
from abstractllm_hf_gguf.options import LoadSpec

__all__ = ["resolve_model_file"]

logger = logging.getLogger(__name__)

_FIRST_SHARD = re.compile(r"-00001-of-\d{5}\.gguf$")
_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}\.gguf$")


def resolve_model_file(spec: LoadSpec, token: str | None) -> Path:
    """The local path of the GGUF file ``spec`` names (downloading it unless offline).

    Raises ``ModelNotFoundError`` for a missing file, repo or cached entry,
    ``InvalidArgumentError`` when ``filename`` matches no file or several unrelated
    ones (the matches are listed), ``AuthenticationError`` for gated or private repos,
    ``ProviderConnectionError`` when the hub cannot be reached and nothing is cached.
    """
    if spec.model_path is not None:
        path = Path(spec.model_path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
        return path.resolve()
    assert spec.repo_id is not None
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub import errors as hub_errors

    offline = bool(constants.HF_HUB_OFFLINE)
    unreachable: Exception | None = None  # why the hub was not used although offline mode is off
    try:
        try:
            files = _repo_gguf_files(spec, token, offline=offline)
        except Exception as exc:
            if not _is_transport_failure(exc):
                raise
            offline, unreachable = True, exc
            files = _cached_gguf_files(spec, unreachable=exc)
        chosen = _choose(spec, files)
        # the snapshot path (a link into the blobs) keeps the file's name
        with progress_only_on_a_terminal():
            return Path(
                huggingface_hub.hf_hub_download(
                    spec.repo_id, chosen, revision=spec.revision, cache_dir=spec.cache_dir, token=token, local_files_only=offline
                )
            ).absolute()
    except (hub_errors.GatedRepoError, hub_errors.DisabledRepoError) as exc:
        raise AuthenticationError(f"{spec.repo_id} is gated or disabled; pass a token with access (api_key=...)") from exc
    except (
        hub_errors.RepositoryNotFoundError,
        hub_errors.RevisionNotFoundError,
        hub_errors.EntryNotFoundError,  # LocalEntryNotFoundError too: the file is not in the cache
        hub_errors.OfflineModeIsEnabled,
    ) as exc:
        if unreachable is not None:  # the hub could not be reached and the cache lacks what is asked
            raise _unreachable(spec, unreachable) from exc
        if offline:  # HF_HUB_OFFLINE=1: only the cache was asked
            raise ModelNotFoundError(hub_cache_miss(spec.label, spec.cache_dir, None)) from exc
        if isinstance(exc, hub_errors.LocalEntryNotFoundError):  # the download lost the hub
            raise _unreachable(spec, exc.__cause__ or exc) from exc
        raise ModelNotFoundError(
            f"{spec.label} was not found on the hub at {constants.ENDPOINT} ({type(exc).__name__});"
            " check the repo id, revision and filename (a private repo needs api_key=)"
        ) from exc
    except hub_errors.HfHubHTTPError as exc:
        raise ProviderConnectionError(f"the hub failed while fetching {spec.label}: {type(exc).__name__}") from exc
    except Exception as exc:
        if _is_transport_failure(exc):
            raise _unreachable(spec, exc) from exc
        raise


def _is_transport_failure(error: Exception) -> bool:
    """Whether ``error`` means the hub could not be reached (no HTTP answer at all).

    Matched by class name so that every HTTP stack huggingface_hub has used counts
    (``httpx``/``httpx2`` ``TransportError``, ``requests`` ``ConnectionError``/``Timeout``).
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, ConnectionError | TimeoutError) or bool(names & {"TransportError", "ConnectionError", "Timeout"})


def _repo_gguf_files(spec: LoadSpec, token: str | None, *, offline: bool) -> list[str]:
    """The ``.gguf`` files of the repo: from the cached snapshot offline, else from the hub (one request)."""
    import huggingface_hub
    from huggingface_hub import constants

    assert spec.repo_id is not None
    if offline:
        return _cached_gguf_files(spec, unreachable=None)
    info = huggingface_hub.HfApi().model_info(
        spec.repo_id, revision=spec.revision, token=token, timeout=constants.HF_HUB_ETAG_TIMEOUT
    )
    return sorted(sibling.rfilename for sibling in info.siblings or () if sibling.rfilename.lower().endswith(".gguf"))


def _cached_gguf_files(spec: LoadSpec, unreachable: Exception | None) -> list[str]:
    """The ``.gguf`` files of the repo's cached snapshot.

    With ``unreachable`` (the hub could not be reached) a missing snapshot is a
    ``ProviderConnectionError`` naming the repo, the cache folder and the way out.
    """
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    assert spec.repo_id is not None
    try:
        folder = Path(
            huggingface_hub.snapshot_download(
                spec.repo_id, revision=spec.revision, cache_dir=spec.cache_dir, local_files_only=True
            )
        )
    except (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled, hub_errors.RevisionNotFoundError):
        if unreachable is None:
            raise
        raise _unreachable(spec, unreachable) from unreachable
    if unreachable is not None:
        logger.warning("the hub is unreachable (%s); using the cached snapshot of %s", type(unreachable).__name__, spec.repo_id)
    files = [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file() or path.is_symlink()]
    return sorted(name for name in files if name.lower().endswith(".gguf"))


def _unreachable(spec: LoadSpec, error: BaseException) -> ProviderConnectionError:
    return ProviderConnectionError(hub_cache_miss(spec.label, spec.cache_dir, error))


def _choose(spec: LoadSpec, files: list[str]) -> str:
    pattern = spec.filename or "*.gguf"
    matches = [name for name in files if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(Path(name).name, pattern)]
    if len(matches) == 1:
        return matches[0]
    first_shards = [name for name in matches if _FIRST_SHARD.search(name)]
    if len(first_shards) == 1 and len({_SHARD_SUFFIX.sub("", name) for name in matches}) == 1:
        return first_shards[0]  # the shards of one split model: llama.cpp loads them from the first
    shown = ", ".join(files[:20]) or "none"
    problem = "matches no .gguf file" if not matches else f"matches several files ({', '.join(matches[:20])})"
    raise InvalidArgumentError(
        f"filename={pattern!r} {problem} in {spec.repo_id}; its .gguf files: {shown}",
        parameter="filename",
        value=spec.filename,
        allowed=shown,
    )
