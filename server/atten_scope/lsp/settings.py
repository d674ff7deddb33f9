"""Server settings from ``initializationOptions`` and ``workspace/didChangeConfiguration`` (docs/PROTOCOL.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.limits import ANALYSIS_CACHE_MB, CACHE_DOCUMENTS, MAX_TOKENS, MEMORY_BUDGET_MB, Limit
from atten_scope.protocol.params import VIEW_KEYS, parse_options, view_fields
from atten_scope.views.evidence import default_options
from atten_scope.views.options import ViewOptions

SECTION = "attenScope"
DEVICES = ("auto", "cpu", "cuda", "mps")
# Large enough that any model's layer or head index passes; real bounds are checked per request.
_ANY_COUNT = 1_000_000


@dataclass(frozen=True)
class Settings:
    model: str = EMBEDDED_ID
    device: str = "auto"
    max_tokens: int = MAX_TOKENS.default
    trust_remote_code: bool = False
    cache_documents: int = CACHE_DOCUMENTS.default
    memory_budget_mb: int = MEMORY_BUDGET_MB.default
    analysis_cache_mb: int = ANALYSIS_CACHE_MB.default
    # View defaults as the client spelled them; validated against the model at request time.
    view: dict[str, Any] = field(default_factory=dict)

    @property
    def model_key(self) -> tuple[str, str, bool]:
        """What identifies the loaded model: a change reloads it."""
        return (self.model, self.device, self.trust_remote_code)

    def view_options(self, params: dict[str, Any], model_id: str, layers: int, heads: int) -> ViewOptions:
        """The model's default view, overlaid with the settings' view defaults and ``params`` (protocol
        names; None: unset)."""
        return view_fields(params).over(view_fields(self.view)).apply(default_options(model_id), layers, heads)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Whole-number settings: the client's key, the Settings field and the registry's bounds.
BOUNDED: tuple[tuple[str, str, Limit], ...] = (
    ("maxTokens", "max_tokens", MAX_TOKENS),
    ("cacheDocuments", "cache_documents", CACHE_DOCUMENTS),
    ("memoryBudgetMB", "memory_budget_mb", MEMORY_BUDGET_MB),
    ("analysisCacheMB", "analysis_cache_mb", ANALYSIS_CACHE_MB),
)


def unwrap(params: Any) -> Any:
    """The settings object of ``{"settings": {"attenScope": S}}``, ``{"settings": S}`` or ``S``."""
    if isinstance(params, dict) and "settings" in params:
        params = params["settings"]
    if isinstance(params, dict) and isinstance(params.get(SECTION), dict):
        params = params[SECTION]
    return params


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Overlay ``raw`` on ``base``; an invalid value keeps the previous one and yields a warning sentence."""
    settings = base or Settings()
    warnings: list[str] = []
    raw = unwrap(raw)
    if raw is None:
        return settings, warnings
    if not isinstance(raw, dict):
        return settings, ["The Atten-Scope settings must be an object; they were ignored."]

    def bad(key: str, why: str) -> None:
        warnings.append(f"Setting attenScope.{key}: {why}; the previous value is kept.")

    if "model" in raw and raw["model"] is not None:
        if isinstance(raw["model"], str) and raw["model"].strip():
            settings = replace(settings, model=raw["model"].strip())
        else:
            bad("model", "expected a model id or path")
    if "device" in raw and raw["device"] is not None:
        if raw["device"] in DEVICES:
            settings = replace(settings, device=raw["device"])
        else:
            bad("device", f"expected one of {', '.join(DEVICES)}")
    if "trustRemoteCode" in raw and raw["trustRemoteCode"] is not None:
        if isinstance(raw["trustRemoteCode"], bool):
            settings = replace(settings, trust_remote_code=raw["trustRemoteCode"])
        else:
            bad("trustRemoteCode", "expected true or false")
    for key, field_name, limit in BOUNDED:
        value = raw.get(key)
        if value is None:
            continue
        if _whole(value) and limit.minimum <= value <= limit.maximum:
            settings = replace(settings, **{field_name: value})
        else:
            bad(key, f"expected a whole number from {limit.minimum} to {limit.maximum}")
    view = dict(settings.view)
    for key in VIEW_KEYS:
        if key not in raw or raw[key] is None:
            continue
        try:
            # Check each field alone: index bounds depend on the model, perHead on a request's layer/head.
            layers = _ANY_COUNT if key == "layers" else 1
            heads = _ANY_COUNT if key == "heads" else 1
            parse_options({key: raw[key]}, ViewOptions(), layers, heads)
        except InvalidRequest as error:
            bad(key, str(error).rstrip("."))
            continue
        view[key] = raw[key]
    return replace(settings, view=view), warnings
