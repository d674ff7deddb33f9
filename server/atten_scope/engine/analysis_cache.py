"""Analyses kept on disk, addressed by their content, so a document reopened (in this process or
after a restart) is restored instead of analysed again.

**Key.** An entry is found by the SHA-256 of what determines the captured state, and of nothing
else: the format version, the model (its id, a fingerprint of its class, config and weights:
``weights_fingerprint``), the device kind and dtype it runs in, the analysis settings (window
size ``maxTokens``, ``MAX_WINDOWS``, the Gram checkpoint spacing, whether windows are stored
compactly), the torch and transformers versions, and the SHA-256 of the document's text (and, for
an analysis with context files, of each piece of the prefix read before it: ``context.py``). Not its
URI: the same text in another file, or after a rename, finds the same entry. Tokens depend on the
text alone (tab size only changes how columns are shown).

**Entry.** ``<directory>/<key>/`` holds ``data.bin``, every captured tensor of every window
(``window.py``: queries, keys, values, log-sum-exp, value norms, Gram checkpoints, scales, final
hidden rows) and the document's token ids, each starting at a 64-byte boundary, and
``manifest.json``: the format version, the key and its fields, the data's size and CRC-32, each
tensor's offset/dtype/shape, each window's small fields (its start, the id after it, its sliding
windows, the model's reference logits of its last row) and the next-token log-probabilities
computed so far (``CapturedWindow.logprobs``, which an entry gains after it is written: ``amend``).
An entry is written into a temporary folder and renamed into place, so a reader sees a whole
entry or none; the manifest alone is replaced (temporary file, rename) when amended.

**Restore.** The manifest must match the key field by field, the data its size and CRC-32 (read
once, streamed: ~4 GB/s), and the text must tokenize to the stored ids; anything else (a
truncated, corrupt or foreign entry, another tokenizer) discards the entry with a log line, and
the document is analysed as if it had never been seen. The tensors are memory maps of
``data.bin`` (copy-on-write, as a spilled window's: ``storage.py``), so a restore reads no more
than the checksum does and the restored windows count against the memory budget as spilled ones
do: only what is built on them later is the process's own memory.

**Size.** Entries are evicted least recently used first (a restore or a repeated save touches the
manifest) while the folder holds more than ``limit_mb``; an entry larger than the limit is not
written. Writes run on one background thread, newest first per ``slot`` (a document's URI): an
analysis superseded by a newer one of the same document before its turn is not written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atten_scope.common import cancellation
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import MAX_WINDOWS, Analysis, plan_windows, tokenize_text
from atten_scope.engine.context import Prefix
from atten_scope.engine.embedded import cache_root
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.prediction import Head, Reference
from atten_scope.engine.storage import COMPACT_DTYPE, DISK_RESERVE, MemoryBudget, mark_mapped
from atten_scope.engine.window import GRAM_CHECKPOINT, CapturedWindow

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA = "data.bin"
TEMPORARY = ".partial-"  # folders being written; one left by a killed process is removed later
STALE_S = 3600.0  # a temporary folder untouched this long was left behind, not being written
ALIGN = 64
CHUNK = 1 << 24  # bytes checksummed (and cancellation checked) at a time
WEIGHT_SAMPLES = 4096  # numbers read from each parameter for the weights' fingerprint
_MB = 1 << 20
_TENSORS = ("query", "key", "value", "lse", "value_norm", "gram", "scale", "hidden")
_DTYPES: dict[str, torch.dtype] = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.int32, torch.bool)
}


class EntryError(ValueError):
    """A cache entry that cannot be used: why, in words."""


def analysis_directory() -> Path:
    """Where analyses are kept: ``$ATTEN_SCOPE_ANALYSIS_CACHE_DIR``, else ``<cache root>/analyses``
    (the cache root: ``$ATTEN_SCOPE_CACHE_DIR``, else the user cache directory)."""
    override = os.environ.get("ATTEN_SCOPE_ANALYSIS_CACHE_DIR")
    return Path(override) if override else cache_root() / "analyses"


# ---- the key


@dataclass(frozen=True)
class CacheKey:
    """What an analysis depends on (JSON-able ``fields``) and the digest that names its entry."""

    fields: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(_canonical(self.fields).encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def text_digest(text: str) -> str:
    # Lone surrogates can reach the server in LSP text; they must hash, not fail.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_fingerprints: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_fingerprint_lock = threading.Lock()


def weights_fingerprint(model: Any) -> str:
    """A digest of ``model``: its class, its config (without the path it was loaded from) and, for
    each parameter, its name, shape, dtype and ``WEIGHT_SAMPLES`` evenly strided values. Any
    retrained or re-quantised model differs in the sampled values; computed once per model (a
    few milliseconds for the embedded one)."""
    with _fingerprint_lock:
        known = _fingerprints.get(model)
        if known is not None:
            return known
        digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
        config = model.config.to_dict() if hasattr(model.config, "to_dict") else {}
        config.pop("_name_or_path", None)
        config.pop("transformers_version", None)
        digest.update(json.dumps(config, sort_keys=True, default=str).encode("utf-8"))
        with torch.inference_mode():
            for name, parameter in model.named_parameters():
                digest.update(f"{name}:{tuple(parameter.shape)}:{parameter.dtype}".encode())
                if parameter.device.type == "meta" or parameter.numel() == 0:
                    continue
                flat = parameter.detach().reshape(-1)
                step = max(1, flat.numel() // WEIGHT_SAMPLES)
                sample = flat[::step][:WEIGHT_SAMPLES].float().cpu().numpy()
                digest.update(sample.tobytes())
        found = digest.hexdigest()
        _fingerprints[model] = found
        return found


def cache_key(
    loaded: LoadedModel, text: str, max_tokens: int, compact: bool, context: Prefix | None = None
) -> CacheKey:
    """The key of the analysis of ``text`` by ``loaded`` in windows of ``max_tokens``; ``compact``:
    windows stored in ``COMPACT_DTYPE`` (an analysis under a memory budget, as the server runs);
    ``context``: read after those context files (``context.py``), whose every piece (headers and
    texts, each tokenized on its own) is in the key by its SHA-256. Without context files the key has
    no such field, so it is the key of the document read alone."""
    import transformers

    parameter = next(loaded.model.parameters(), None)
    read_first = {} if context is None else {"context": [text_digest(piece.text) for piece in context.pieces]}
    return CacheKey(
        {
            **read_first,
            "format": FORMAT_VERSION,
            "model": loaded.info.id,
            "weights": weights_fingerprint(loaded.model),
            "device": loaded.device.type,
            "dtype": str(parameter.dtype) if parameter is not None else "",
            "maxTokens": max_tokens,
            "maxWindows": MAX_WINDOWS,
            "gramCheckpoint": GRAM_CHECKPOINT,
            "compact": str(COMPACT_DTYPE) if compact else None,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "text": text_digest(text),
        }
    )


# ---- the cache


class AnalysisCache:
    """The analyses kept in ``directory`` (default ``analysis_directory()``), at most ``limit_mb``
    megabytes of them; 0 turns the cache off and removes what it holds (``resize``)."""

    def __init__(self, limit_mb: int, directory: Path | None = None) -> None:
        self.limit_bytes = limit_mb * _MB
        self._directory = directory
        self._pending: OrderedDict[str, Callable[[], object]] = OrderedDict()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None

    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else analysis_directory()

    @property
    def enabled(self) -> bool:
        return self.limit_bytes > 0

    # -- restore

    def restore(
        self,
        key: CacheKey,
        loaded: LoadedModel,
        text: str,
        progress: ReportProgress = ignore_progress,
        budget: MemoryBudget | None = None,
        context: Prefix | None = None,
    ) -> Analysis | None:
        """The analysis of ``text`` kept under ``key``, its windows mapped from disk; None when there
        is none or it cannot be used (then it is deleted, with a log line). Stops with
        ``Cancelled`` at the next checksum chunk once the work on this thread is cancelled. With
        ``budget``, the windows join it (as spilled ones: what is built on them later counts)."""
        if not self.enabled:
            return None
        began = time.perf_counter()
        entry = self.directory / key.digest
        try:
            raw = (entry / MANIFEST).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("Could not read the cached analysis %s: %s", entry.name, error)
            return None
        try:
            progress(None, "Reading the saved analysis")
            analysis = _read_entry(entry, raw, key, loaded, text, progress, context)
        except FileNotFoundError:  # evicted meanwhile, by this process or another
            return None
        except (EntryError, OSError, ValueError, KeyError, TypeError, IndexError) as error:
            log.warning("Discarded the cached analysis %s: %s", entry.name, error)
            remove_entry(entry)
            return None
        _touch(entry)
        if budget is not None:
            for win in analysis.windows:
                budget.admit(win)
        analysis.elapsed_ms = (time.perf_counter() - began) * 1000
        log.info(
            "Restored the analysis of %d tokens from the analysis cache in %.2f s",
            analysis.token_count,
            analysis.elapsed_ms / 1000,
        )
        return analysis

    # -- save

    def save(self, key: CacheKey, analysis: Analysis) -> bool:
        """Write ``analysis`` under ``key`` (an existing entry gains the log-probabilities computed
        since: ``amend``); True if an entry was written. Evicts the least recently used entries
        beyond the size limit first. Failures are logged, never raised: the cache is optional."""
        if not self.enabled:
            return False
        entry = self.directory / key.digest
        try:
            if (entry / MANIFEST).is_file():
                try:
                    self._amend(entry, analysis)
                    return False
                except (EntryError, ValueError, KeyError, TypeError) as error:  # written again below
                    log.warning("Discarded the cached analysis %s: %s", entry.name, error)
                    remove_entry(entry)
            size = _data_bytes(analysis)
            if size > self.limit_bytes:
                log.info(
                    "The analysis (%d MB) is larger than attenScope.analysisCacheMB (%d MB): not kept on disk",
                    size // _MB,
                    self.limit_bytes // _MB,
                )
                return False
            self.directory.mkdir(parents=True, exist_ok=True)
            self.trim(incoming=size)
            free = _free_disk(self.directory)
            if free is not None and size + DISK_RESERVE > free:
                log.info("Not enough free disk space in %s to keep the analysis", self.directory)
                return False
            began = time.perf_counter()
            written = _write_entry(self.directory, entry, key, analysis)
        except OSError as error:
            log.warning("Could not keep the analysis in %s: %s", self.directory, error)
            return False
        if written:
            log.info(
                "Kept the analysis of %d tokens in the analysis cache (%d MB, %.1f s)",
                analysis.token_count,
                size // _MB,
                time.perf_counter() - began,
            )
        return written

    def save_later(self, slot: str, key: CacheKey, analysis: Analysis) -> None:
        """``save`` on the writer thread; a later call with the same ``slot`` replaces one not yet begun."""
        if self.enabled:
            self._later(slot, lambda: self.save(key, analysis))

    def resize_later(self, limit_mb: int) -> None:
        """Change the limit; entries beyond it are evicted on the writer thread."""
        self.limit_bytes = limit_mb * _MB
        self._later("\0resize", self.trim)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the writer thread has done what was asked of it; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending and self._writer is None, timeout)

    def _later(self, slot: str, work: Callable[[], object]) -> None:
        with self._lock:
            self._pending.pop(slot, None)
            self._pending[slot] = work
            if self._writer is None:
                # Not a daemon: a clean exit (the editor closing) waits for what is being written.
                self._writer = threading.Thread(target=self._drain, name="atten-scope-analysis-cache")
                self._writer.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._writer = None
                    self._idle.notify_all()
                    return
                _, work = self._pending.popitem(last=False)
            try:
                work()
            except Exception:  # the cache is optional: a failure must not stop later writes
                log.exception("The analysis cache failed")

    # -- size

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last use, bytes, folder) of each entry, least recently used first; temporary folders
        left behind by a killed writer are removed on the way."""
        found = []
        try:
            children = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        now = time.time()
        for child in children:
            try:
                if child.name.startswith(TEMPORARY):
                    if now - _newest_change(child) > STALE_S:
                        shutil.rmtree(child, ignore_errors=True)
                    continue
                if not child.is_dir():
                    continue
                files = list(child.iterdir())
                size = sum(f.stat().st_size for f in files)
                manifest = child / MANIFEST
                used = manifest.stat().st_mtime if manifest.exists() else 0.0  # a half-removed entry goes first
                found.append((used, size, child))
            except OSError:  # removed meanwhile by another process
                continue
        return sorted(found, key=lambda item: item[0])

    def size(self) -> int:
        """Bytes the cache's entries take on disk."""
        return sum(size for _, size, _ in self.entries())

    def trim(self, incoming: int = 0) -> None:
        """Evict the least recently used entries until they and ``incoming`` more bytes fit the limit."""
        found = self.entries()
        total = sum(size for _, size, _ in found)
        for _, size, path in found:
            if total + incoming <= self.limit_bytes:
                break
            log.info("Evicted a cached analysis (%d MB) beyond attenScope.analysisCacheMB", size // _MB)
            remove_entry(path)
            total -= size

    def _amend(self, entry: Path, analysis: Analysis) -> None:
        """Touch ``entry``, and write into its manifest the log-probabilities ``analysis`` has and it lacks."""
        manifest = _parse_manifest((entry / MANIFEST).read_bytes())
        if manifest.get("key") != entry.name or manifest.get("format") != FORMAT_VERSION:
            raise EntryError("it was kept under another key or format")
        kept = manifest.get("logprobs") or [None] * len(analysis.windows)
        ours = [_logprobs_json(win) for win in analysis.windows]
        if len(kept) == len(ours) and any(_known(o) > _known(k) for o, k in zip(ours, kept, strict=True)):
            manifest["logprobs"] = [o if _known(o) > _known(k) else k for o, k in zip(ours, kept, strict=True)]
            _write_manifest(entry, manifest)
        else:
            _touch(entry)


# ---- reading and writing entries


def _write_entry(directory: Path, entry: Path, key: CacheKey, analysis: Analysis) -> bool:
    staging = Path(tempfile.mkdtemp(prefix=TEMPORARY, dir=directory))
    try:
        tensors: dict[str, torch.Tensor] = {"ids": torch.tensor(analysis.document.ids, dtype=torch.int64)}
        windows = []
        for number, win in enumerate(analysis.windows):
            for name in _TENSORS:
                tensor = getattr(win, name)
                if tensor is not None:
                    tensors[f"{number}.{name}"] = tensor
            reference = win.reference
            windows.append(
                {
                    "start": win.start,
                    "n": win.n,
                    "nextId": win.next_id,
                    "device": win.query.device.type,
                    "slidingWindow": list(win.sliding_window),
                    "reference": None
                    if reference is None
                    else {
                        "ids": reference.ids.tolist(),
                        "values": reference.values.tolist(),
                        "lse": reference.lse,
                    },
                }
            )
        layout, size, crc = _write_data(staging / DATA, tensors)
        manifest = {
            "format": FORMAT_VERSION,
            "key": key.digest,
            "fields": key.fields,
            "dataBytes": size,
            "crc32": crc,
            "tokens": analysis.token_count,
            "maxTokens": analysis.max_tokens,
            "truncated": analysis.truncated,
            "analysisMs": round(analysis.elapsed_ms, 1),
            "tensors": layout,
            "windows": windows,
            "logprobs": [_logprobs_json(win) for win in analysis.windows],
        }
        _write_manifest(staging, manifest)
        try:
            os.rename(staging, entry)
        except OSError:  # another process kept the same analysis meanwhile: one copy is enough
            return False
        return True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _write_data(path: Path, tensors: dict[str, torch.Tensor]) -> tuple[dict[str, Any], int, int]:
    """Write ``tensors``' bytes to ``path``, each at an ALIGN boundary; (layout, size, CRC-32)."""
    layout: dict[str, Any] = {}
    crc = 0
    offset = 0
    with path.open("wb") as out:
        for name, tensor in tensors.items():
            padding = -offset % ALIGN
            if padding:
                out.write(b"\0" * padding)
                crc = zlib.crc32(b"\0" * padding, crc)
                offset += padding
            flat = tensor.detach().contiguous().cpu().reshape(-1)
            data = flat.view(torch.uint8).numpy() if flat.numel() else np.empty(0, dtype=np.uint8)
            layout[name] = {
                "offset": offset,
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "shape": list(tensor.shape),
            }
            for start in range(0, len(data), CHUNK):
                block = data[start : start + CHUNK].data
                out.write(block)
                crc = zlib.crc32(block, crc)
            offset += len(data)
    return layout, offset, crc


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    body = {k: v for k, v in manifest.items() if k != "check"}
    text = json.dumps({**body, "check": zlib.crc32(_canonical(body).encode("utf-8"))})
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY, suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, folder / MANIFEST)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    manifest = json.loads(raw.decode("utf-8"))
    if not isinstance(manifest, dict):
        raise EntryError("its manifest is not an object")
    body = {k: v for k, v in manifest.items() if k != "check"}
    if manifest.get("check") != zlib.crc32(_canonical(body).encode("utf-8")):
        raise EntryError("its manifest fails its checksum")
    return manifest


def _read_entry(
    entry: Path,
    raw: bytes,
    key: CacheKey,
    loaded: LoadedModel,
    text: str,
    progress: ReportProgress,
    context: Prefix | None = None,
) -> Analysis:
    manifest = _parse_manifest(raw)
    if manifest.get("format") != FORMAT_VERSION:
        raise EntryError(f"format {manifest.get('format')!r}, expected {FORMAT_VERSION}")
    if manifest.get("key") != key.digest or manifest.get("fields") != json.loads(_canonical(key.fields)):
        raise EntryError("it was kept under another key")
    data = entry / DATA
    size = data.stat().st_size
    if size != manifest["dataBytes"]:
        raise EntryError(f"its data has {size} bytes, expected {manifest['dataBytes']}")
    if _checksum(data, size, progress) != manifest["crc32"]:
        raise EntryError("its data fails its checksum")
    layout: dict[str, Any] = manifest["tensors"]

    def tensor(name: str) -> torch.Tensor | None:
        spec = layout.get(name)
        return None if spec is None else _map(data, spec, size)

    document = tokenize_text(loaded, text, context)
    ids = tensor("ids")
    if ids is None or ids.tolist() != document.ids:
        raise EntryError("the text does not tokenize to the kept tokens (another tokenizer?)")
    max_tokens = int(manifest["maxTokens"])
    plan = plan_windows(len(document), max_tokens)[:MAX_WINDOWS]
    described: list[dict[str, Any]] = manifest["windows"]
    if [(w["start"], w["start"] + w["n"]) for w in described] != plan:
        raise EntryError("its windows do not cover the document as an analysis would")
    logprobs = manifest.get("logprobs") or [None] * len(described)
    if len(logprobs) != len(described):
        raise EntryError("its log-probabilities do not match its windows")
    windows = [
        _window(number, spec, document.ids, tensor, loaded, logprobs[number]) for number, spec in enumerate(described)
    ]
    for win in windows:
        if win.query.device.type == "cpu":
            mark_mapped(win, data)
    return Analysis(
        document=document,
        windows=windows,
        info=loaded.info,
        max_tokens=max_tokens,
        truncated=bool(manifest["truncated"]),
        reused_tokens=plan[-1][1] if plan else 0,
        head=Head.of(loaded.model),
        model=loaded.model,
        restored=True,
    )


def _window(
    number: int,
    spec: dict[str, Any],
    ids: list[int],
    tensor: Callable[[str], torch.Tensor | None],
    loaded: LoadedModel,
    logprobs: dict[str, Any] | None,
) -> CapturedWindow:
    start, n = int(spec["start"]), int(spec["n"])
    parts = {name: tensor(f"{number}.{name}") for name in _TENSORS}
    if spec["device"] != "cpu":
        parts = {name: t.to(loaded.device) if t is not None else None for name, t in parts.items()}
    query, key, value, lse, value_norm, gram, scale = (parts[name] for name in _TENSORS[:-1])
    if query is None or key is None or value is None or lse is None or value_norm is None or gram is None:
        raise EntryError(f"window {number} lacks a captured tensor")
    if scale is None:
        raise EntryError(f"window {number} lacks its scales")
    layers, heads = loaded.info.layers, loaded.info.heads
    if query.dim() != 4 or query.shape[1:3] != (heads, n) or query.shape[0] > layers:
        raise EntryError(f"window {number}'s queries have shape {tuple(query.shape)}, not this model's")
    shapes_agree = (
        key.shape[2] == n
        and value.shape[2] == n
        and lse.shape == query.shape[:3]
        and value_norm.shape == lse.shape
        and gram.shape[2] == n // GRAM_CHECKPOINT + 1
        and scale.shape == (query.shape[0],)
        and (parts["hidden"] is None or parts["hidden"].shape[0] == n)
    )
    if not shapes_agree:
        raise EntryError(f"window {number}'s tensors disagree in shape")
    reference = spec.get("reference")
    end = start + n
    win = CapturedWindow(
        start=start,
        ids=ids[start:end],
        query=query,
        key=key,
        value=value,
        lse=lse,
        value_norm=value_norm,
        gram=gram,
        scale=scale,
        sliding_window=[None if w is None else int(w) for w in spec["slidingWindow"]],
        recomputed=0,
        hidden=parts["hidden"],
        reference=None
        if reference is None
        else Reference(
            torch.tensor(reference["ids"], dtype=torch.int64),
            torch.tensor(reference["values"], dtype=torch.float32),
            float(reference["lse"]),
        ),
        next_id=ids[end] if end < len(ids) else None,
    )
    if spec["nextId"] != win.next_id:
        raise EntryError(f"window {number} was followed by another token")
    if logprobs is not None:
        values = np.frombuffer(base64.b64decode(logprobs["values"]), dtype=np.float32)
        known = np.frombuffer(base64.b64decode(logprobs["known"]), dtype=np.bool_)
        if len(values) != n or len(known) != n:
            raise EntryError(f"window {number}'s log-probabilities have the wrong length")
        win.keep_logprobs(0, torch.from_numpy(values.copy()))
        win.logprobs_known = torch.from_numpy(known.copy())
    return win


def _logprobs_json(win: CapturedWindow) -> dict[str, Any] | None:
    """The log-probabilities ``win`` has computed, as base64 bytes; None when it has none."""
    # ``known`` first: a row is marked known only after its value is written (keep_logprobs).
    known, values = win.logprobs_known, win.logprobs
    if known is None or values is None:
        return None
    known = known.clone()
    values = values.clone()
    if not bool(known.any()):
        return None
    return {
        "values": base64.b64encode(values.numpy().astype(np.float32).tobytes()).decode("ascii"),
        "known": base64.b64encode(known.numpy().astype(np.bool_).tobytes()).decode("ascii"),
        "count": int(known.sum()),
    }


def _known(logprobs: dict[str, Any] | None) -> int:
    return int(logprobs.get("count", 0)) if isinstance(logprobs, dict) else 0


def _map(path: Path, spec: dict[str, Any], size: int) -> torch.Tensor:
    """A tensor over ``path``'s bytes as ``spec`` lays them out (copy-on-write: nothing writes to it)."""
    dtype = _DTYPES.get(spec["dtype"])
    if dtype is None:
        raise EntryError(f"unknown dtype {spec['dtype']!r}")
    shape = tuple(int(s) for s in spec["shape"])
    offset = int(spec["offset"])
    count = int(np.prod(shape)) if shape else 1
    nbytes = count * dtype.itemsize
    if offset < 0 or offset % ALIGN or offset + nbytes > size or any(s < 0 for s in shape):
        raise EntryError("a tensor lies outside its data")
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    raw = np.memmap(path, dtype=np.uint8, mode="c", offset=offset, shape=(nbytes,))
    return torch.from_numpy(raw).view(dtype).reshape(shape)


def _checksum(path: Path, size: int, progress: ReportProgress) -> int:
    crc = 0
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            cancellation.check()
            crc = zlib.crc32(block, crc)
            done += len(block)
            progress(done / size if size else 1.0, "Reading the saved analysis")
    return crc


def _data_bytes(analysis: Analysis) -> int:
    total = len(analysis.document.ids) * 8
    for win in analysis.windows:
        for name in _TENSORS:
            tensor = getattr(win, name)
            if tensor is not None:
                total += tensor.element_size() * tensor.nelement() + ALIGN
    return total


def remove_entry(entry: Path) -> None:
    """Delete an entry, its manifest first so that no reader takes it while it goes. A file still
    mapped elsewhere (Windows) stays until a later eviction."""
    try:
        (entry / MANIFEST).unlink(missing_ok=True)
    except OSError as error:
        log.warning("Could not remove %s: %s", entry, error)
    shutil.rmtree(entry, ignore_errors=True)


def _touch(entry: Path) -> None:
    try:
        os.utime(entry / MANIFEST)
    except OSError:  # evicted meanwhile: nothing to mark
        pass


def _newest_change(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for child in folder.iterdir():
        try:
            times.append(child.stat().st_mtime)
        except OSError:
            continue
    return max(times)


def _free_disk(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None
