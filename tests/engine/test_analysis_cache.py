"""The analysis cache on disk: an analysis restored from it answers exactly as the analysed one, in
a new cache object over the same folder (a restart); a corrupt, truncated or foreign entry is
deleted and never used; its size stays within its limit, least recently used entries going first."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atten_scope.engine import analysis_cache
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.analysis_cache import DATA, MANIFEST, AnalysisCache, cache_key, weights_fingerprint
from atten_scope.engine.storage import MemoryBudget, is_spilled, resident_bytes
from atten_scope.views.attention import attention_vector
from atten_scope.views.options import ViewOptions
from tests.conftest import build_tiny

# Windows of 48 tokens (overlapping by 12) over a short file: several windows, every analysis small.
WINDOW = 48
TEXT = (
    "import os\n\n\ndef walk(root):\n    for name in sorted(os.listdir(root)):\n"
    "        path = os.path.join(root, name)\n        if os.path.isdir(path):\n"
    "            yield from walk(path)\n        else:\n            yield path\n\n\n"
    "def sizes(root):\n    return {path: os.path.getsize(path) for path in walk(root)}\n"
)


def analyse(embedded: Any, text: str, tmp_path: Path) -> Analysis:
    return run_analysis(embedded, text, WINDOW, budget=MemoryBudget(1024, tmp_path / "windows"))


def key_of(embedded: Any, text: str = TEXT, max_tokens: int = WINDOW, compact: bool = True) -> Any:
    return cache_key(embedded, text, max_tokens, compact)


@pytest.fixture(scope="module")
def analysed(embedded: Any, tmp_path_factory: Any) -> Analysis:
    analysis = analyse(embedded, TEXT, tmp_path_factory.mktemp("budget"))
    assert len(analysis.windows) >= 3
    return analysis


def saved(embedded: Any, analysis: Analysis, folder: Path, limit_mb: int = 1024) -> tuple[AnalysisCache, Any]:
    cache = AnalysisCache(limit_mb, folder)
    key = key_of(embedded, analysis.document.text)
    assert cache.save(key, analysis)
    return cache, key


def test_a_restored_analysis_answers_exactly_as_the_analysed_one(
    embedded: Any, analysed: Analysis, tmp_path: Path
) -> None:
    _, key = saved(embedded, analysed, tmp_path)
    restarted = AnalysisCache(1024, tmp_path)  # a new process reading the same folder
    restored = restarted.restore(key, embedded, TEXT)
    assert restored is not None and restored.restored and not analysed.restored
    assert restored.document.ids == analysed.document.ids
    assert restored.token_count == analysed.token_count and restored.truncated == analysed.truncated
    assert [(w.start, w.n, w.next_id) for w in restored.windows] == [
        (w.start, w.n, w.next_id) for w in analysed.windows
    ]
    for ours, theirs in zip(restored.windows, analysed.windows, strict=True):
        for name in ("query", "key", "value", "lse", "value_norm", "gram", "scale", "hidden"):
            a, b = getattr(ours, name), getattr(theirs, name)
            assert a.dtype == b.dtype and torch.equal(a, b), name
        assert ours.sliding_window == theirs.sliding_window
        assert is_spilled(ours) and resident_bytes(ours) == 0  # memory maps, not the process's own memory
    for token in (0, 40, 70, analysed.token_count - 1):
        for options in (ViewOptions(), ViewOptions(refinement="raw", drop_sink=False)):
            assert np.array_equal(
                attention_vector(restored, token, options), attention_vector(analysed, token, options)
            )
        ours, theirs = restored.prediction(token), analysed.prediction(token)
        assert ours is not None and theirs is not None
        assert (ours.top, ours.next_id, ours.next_rank) == (theirs.top, theirs.next_id, theirs.next_rank)
        assert np.array_equal(ours.next_logprob, theirs.next_logprob, equal_nan=True)
    assert np.array_equal(restored.next_logprobs(), analysed.next_logprobs(), equal_nan=True)
    assert restored.reused_tokens == restored.token_count


def test_the_log_probabilities_computed_later_are_kept_with_the_entry(
    embedded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = analyse(embedded, TEXT, tmp_path)
    cache, key = saved(embedded, fresh, tmp_path / "cache")
    expected = fresh.next_logprobs()  # the surprise heat, built after the entry was written
    assert not cache.save(key, fresh)  # the entry exists: it only gains what it lacks
    manifest = json.loads((tmp_path / "cache" / key.digest / MANIFEST).read_text())
    assert all(entry is not None for entry in manifest["logprobs"])
    restored = AnalysisCache(1024, tmp_path / "cache").restore(key, embedded, TEXT)
    assert restored is not None
    for ours, theirs in zip(restored.windows, fresh.windows, strict=True):
        # Each window's owned rows, read from the entry: the LM head does not run again.
        assert ours.logprobs_known is not None and theirs.logprobs_known is not None
        assert bool(ours.logprobs_known.any()) and torch.equal(ours.logprobs_known, theirs.logprobs_known)

    def no_head(*_: Any) -> None:
        raise AssertionError("the LM head ran for a kept log-probability")

    monkeypatch.setattr("atten_scope.engine.analysis.next_logprobs", no_head)
    assert np.array_equal(restored.next_logprobs(), expected, equal_nan=True)


def test_the_key_is_the_content_not_the_file(embedded: Any) -> None:
    key = key_of(embedded)
    assert key_of(embedded).digest == key.digest  # the same text wherever it comes from
    assert key_of(embedded, TEXT + " ").digest != key.digest
    assert key_of(embedded, max_tokens=WINDOW * 2).digest != key.digest
    assert key_of(embedded, compact=False).digest != key.digest
    tiny = build_tiny("llama-gqa")
    fingerprint = weights_fingerprint(tiny)
    assert fingerprint != weights_fingerprint(embedded.model)
    retrained = build_tiny("llama-gqa")
    with torch.no_grad():
        retrained.model.embed_tokens.weight.add_(1e-3)
    assert weights_fingerprint(retrained) != fingerprint
    assert weights_fingerprint(build_tiny("llama-gqa")) == fingerprint


@pytest.mark.parametrize("damage", ["flipped", "truncated", "manifest", "other key", "other text", "format"])
def test_a_damaged_or_foreign_entry_is_deleted_and_never_used(
    embedded: Any, analysed: Analysis, tmp_path: Path, damage: str, caplog: Any
) -> None:
    cache, key = saved(embedded, analysed, tmp_path)
    entry = tmp_path / key.digest
    data, manifest = entry / DATA, entry / MANIFEST
    wanted = key
    if damage == "flipped":
        with data.open("r+b") as handle:
            handle.seek(data.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncated":
        os.truncate(data, data.stat().st_size - 100)
    elif damage == "manifest":
        manifest.write_text(manifest.read_text()[:-40])
    elif damage == "format":
        # A whole, consistent manifest of another format version.
        body = json.loads(manifest.read_text())
        body.pop("check")
        body["format"] = analysis_cache.FORMAT_VERSION + 1
        analysis_cache._write_manifest(entry, body)
    else:
        # An entry under a name that another key (another text or model settings) hashes to.
        wanted = key_of(embedded, TEXT + "\n") if damage == "other text" else key_of(embedded, compact=False)
        entry.rename(tmp_path / wanted.digest)
        entry = tmp_path / wanted.digest
    with caplog.at_level("WARNING", logger=analysis_cache.__name__):
        assert cache.restore(wanted, embedded, TEXT if damage != "other text" else TEXT + "\n") is None
    assert not entry.exists()
    assert "Discarded the cached analysis" in caplog.text


def test_a_damaged_entry_is_written_again_by_the_next_save(embedded: Any, analysed: Analysis, tmp_path: Path) -> None:
    cache, key = saved(embedded, analysed, tmp_path)
    manifest = tmp_path / key.digest / MANIFEST
    manifest.write_text("{}")
    assert cache.save(key, analysed)
    assert json.loads(manifest.read_text())["key"] == key.digest
    assert cache.restore(key, embedded, TEXT) is not None


def test_a_text_that_tokenizes_otherwise_is_not_restored(embedded: Any, analysed: Analysis, tmp_path: Path) -> None:
    cache, key = saved(embedded, analysed, tmp_path)
    # The entry claims to be TEXT's, but another text is asked for under its key (another tokenizer would do the same).
    assert cache.restore(key, embedded, TEXT.replace("walk", "stroll")) is None
    assert not (tmp_path / key.digest).exists()


def test_entries_stay_within_the_limit_least_recently_used_first(embedded: Any, tmp_path: Path) -> None:
    texts = [TEXT.replace("walk", name) for name in ("alpha", "beta", "gamma", "delta")]
    analyses = [analyse(embedded, text, tmp_path) for text in texts]
    cache = AnalysisCache(1024, tmp_path / "cache")
    keys = [key_of(embedded, text) for text in texts]
    for when, (key, analysis) in enumerate(zip(keys[:3], analyses[:3], strict=True)):
        assert cache.save(key, analysis)
        os.utime(tmp_path / "cache" / key.digest / MANIFEST, (1000.0 + when, 1000.0 + when))
    sizes = {path.name: size for _, size, path in cache.entries()}
    assert len(sizes) == 3
    assert cache.restore(keys[0], embedded, texts[0]) is not None  # now the most recently used
    # Room for the three entries but not for a fourth: the least recently used one goes.
    cache.limit_bytes = sum(sizes.values()) + min(sizes.values()) // 2
    assert cache.save(keys[3], analyses[3])
    left = {path.name for _, _, path in cache.entries()}
    assert left == {keys[0].digest, keys[2].digest, keys[3].digest}
    assert cache.size() <= cache.limit_bytes
    # An analysis larger than the whole cache is not written; 0 turns the cache off and empties it.
    small = AnalysisCache(1, tmp_path / "small")
    assert not small.save(keys[0], analyses[0]) and small.entries() == []
    cache.resize_later(0)
    assert cache.flush(timeout=60)
    assert cache.entries() == [] and not cache.save(keys[1], analyses[1])
    assert cache.restore(keys[0], embedded, texts[0]) is None


def test_writes_in_the_background_keep_the_newest_per_document(
    embedded: Any, analysed: Analysis, tmp_path: Path
) -> None:
    cache = AnalysisCache(1024, tmp_path)
    key = key_of(embedded)
    cache.save_later("file:///a.py", key, analysed)
    assert cache.flush(timeout=120)
    assert [path.name for _, _, path in cache.entries()] == [key.digest]
    restored = AnalysisCache(1024, tmp_path).restore(key, embedded, TEXT)
    assert restored is not None and restored.token_count == analysed.token_count
    assert math.isclose(restored.next_logprob(10), analysed.next_logprob(10), rel_tol=0, abs_tol=0)
