"""Plugin discovery: the pluggy manager, entry points, and the table of installed backends.

Plugins are registered under the entry-point group ``abstractllm``, found through
:mod:`abstractllm._private.discovery_cache` (a scan of every distribution only when something was
installed or removed since the last one). A plugin that fails
to import or whose hooks are invalid is recorded in :attr:`Plugins.broken` with its
distribution's name and the reason, and the others keep working.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pluggy

from abstractllm import hookspecs
from abstractllm._private import discovery_cache
from abstractllm.backend import BackendInfo

if TYPE_CHECKING:
    from abstractllm.backend import Backend
    from abstractllm.request import GenerationRequest

T = TypeVar("T")

__all__ = ["ENTRY_POINT_GROUP", "BrokenPlugin", "InstalledBackend", "Plugins", "get_plugins"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "abstractllm"

#: Told to a plugin that imports a core module that is now private (abstractllm 0.1 → 0.2).
PLUGIN_SURFACE_MOVED = (
    "abstractllm's internal modules moved to abstractllm._private; a plugin imports the contract from"
    " abstractllm.backend (Backend, BackendInfo, the request, response, message and tool types), core's"
    " building blocks from abstractllm.blocks (ReplyAssembler, SharedModelCache, the tool-format helpers...),"
    " and abstractllm.options, abstractllm.errors, abstractllm.hookspecs (hookimpl) and abstractllm.testing"
    " (see docs/plugins.md)"
)


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be used: its entry point, distribution and why."""

    name: str
    distribution: str
    error: str


@dataclass(frozen=True)
class InstalledBackend:
    """A backend declared by a plugin, with the distribution that ships it."""

    info: BackendInfo
    plugin: str
    distribution: str
    version: str


@dataclass
class Plugins:
    """The plugin manager with every discovered plugin, and the backends they declare."""

    manager: pluggy.PluginManager
    backends: dict[tuple[str, str], InstalledBackend] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    distributions: dict[str, tuple[str, str]] = field(default_factory=dict)

    _direct: dict[str, bool] = field(default_factory=dict)
    _observed: dict[str, bool] = field(default_factory=dict)

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def only_core_implements(self, hook_name: str) -> bool:
        """True when core's own implementation is the hook's only one, so callers may skip
        pluggy's dispatch and call the backend directly (same result, less overhead)."""
        known = self._direct.get(hook_name)
        if known is None:
            impls = getattr(self.manager.hook, hook_name).get_hookimpls()
            known = self._direct[hook_name] = len(impls) == 1 and impls[0].plugin_name == "abstractllm._private.default_hooks"
        return known

    def call(self, hook_name: str, direct: Callable[[GenerationRequest], T], backend: Backend, request: GenerationRequest) -> T:
        """Run a generation hook: ``direct(request)`` (the backend's own method) when only core
        implements ``hook_name``, else the hook through pluggy, wrappers included."""
        if self.only_core_implements(hook_name):
            return direct(request)
        return cast("T", getattr(self.manager.hook, hook_name)(backend=backend, request=request))

    def observed(self, hook_name: str) -> bool:
        """True when some plugin implements ``hook_name`` (an observer hook worth calling)."""
        known = self._observed.get(hook_name)
        if known is None:
            known = self._observed[hook_name] = bool(getattr(self.manager.hook, hook_name).get_hookimpls())
        return known

    def providers(self) -> list[str]:
        return sorted({provider for provider, _ in self.backends})

    def modes(self, provider: str) -> dict[str, InstalledBackend]:
        return {mode: backend for (name, mode), backend in self.backends.items() if name == provider}

    def register(self, plugin: object, name: str, distribution: str = "(local)", version: str = "") -> bool:
        """Register a plugin object; returns False (and records it as broken) when its hooks are invalid."""
        try:
            _refuse_retired_hooks(plugin)
            self.manager.register(plugin, name=name)
            self.manager.check_pending()
        except Exception as exc:  # pluggy.PluginValidationError and friends
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            self._broken(name, distribution, exc)
            return False
        self.distributions[name] = (distribution, version)
        self._direct.clear()
        self._observed.clear()
        self._collect_backends(plugin, name)
        return True

    def unregister(self, name: str) -> None:
        plugin = self.manager.get_plugin(name)
        if plugin is not None:
            self.manager.unregister(plugin)
        self._direct.clear()
        self._observed.clear()
        self.backends = {key: value for key, value in self.backends.items() if value.plugin != name}
        self.distributions.pop(name, None)

    def _collect_backends(self, plugin: object, name: str) -> None:
        distribution, version = self.distributions.get(name, ("(local)", ""))
        for impl in self.manager.hook.abstractllm_backends.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                declared = cast("list[BackendInfo]", impl.function() or [])
            except Exception as exc:
                self._broken(name, distribution, exc)
                return
            for info in declared:
                key = (info.provider, info.mode)
                if not callable(info.load):
                    self._broken(name, distribution, ValueError(f"{info.provider}/{info.mode} is declared without load=: {_HOW}"))
                    continue
                if key in self.backends:
                    other = self.backends[key]
                    self._broken(
                        name,
                        distribution,
                        ValueError(f"{info.provider}/{info.mode} is already served by {other.distribution}"),
                    )
                    continue
                self.backends[key] = InstalledBackend(info, name, distribution, version)

    def _broken(self, name: str, distribution: str, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("abstractllm."):
            reason += f"; {PLUGIN_SURFACE_MOVED}"
        logger.warning("plugin %s from %s is broken: %s", name, distribution, reason)
        self.broken.append(BrokenPlugin(name, distribution, reason))


_RETIRED_HOOKS = ("abstractllm_load_model", "abstractllm_map_error")
_HOW = (
    "pass the mode's loader and error mapper in the BackendInfo that abstractllm_backends returns,"
    " BackendInfo(..., load=load, map_error=map_error), as docs/plugins.md shows"
)


def _refuse_retired_hooks(plugin: object) -> None:
    """A plugin written for the retired broadcast hooks fails with what changed and the fix."""
    retired = [hook for hook in _RETIRED_HOOKS if callable(getattr(plugin, hook, None))]
    if retired:
        raise ValueError(f"it implements {' and '.join(retired)}, which this version of abstractllm-core no longer calls: {_HOW}")


def _new_plugins() -> Plugins:
    from abstractllm._private import default_hooks, huggingface_hooks

    manager = pluggy.PluginManager("abstractllm")
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager)
    plugins.register(default_hooks, "abstractllm._private.default_hooks", "abstractllm-core")
    plugins.register(huggingface_hooks, "abstractllm.providers.huggingface", "abstractllm-core")
    for entry_point in discovery_cache.entry_points(ENTRY_POINT_GROUP):
        try:
            plugin = entry_point.load()
        except Exception as exc:  # a broken plugin must not break the others
            plugins._broken(entry_point.name, entry_point.distribution, exc)
            continue
        plugins.register(plugin, entry_point.name, entry_point.distribution, entry_point.version)
    return plugins


_lock = threading.Lock()
_plugins: Plugins | None = None


def get_plugins(*, reload: bool = False) -> Plugins:
    """The process-wide plugins, discovered on first use (``reload`` discovers again)."""
    global _plugins
    with _lock:
        if _plugins is None or reload:
            _plugins = _new_plugins()
        return _plugins
