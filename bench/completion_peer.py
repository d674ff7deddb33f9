"""The ``context-cite`` package (Cohen-Wang et al. 2024) as a peer, run on the same completions.

Its ``ContextCiter`` is given the local model and tokenizer, a partitioner whose sources are the
context's lines (the same units as every other method here), the context as the prompt (no chat
template: the model completes code) and the completion's token ids as its response, so it scores
the same tokens. Everything else is the package's own: its ablation masks (its seeds 0..n-1,
keep probability 1/2), its batched teacher-forced passes, its output (the completion's
logit-probability) and its Lasso surrogate. Its prediction for a mask is bias + w . mask.

The package imports nltk and spaCy for its sentence and word splitters, which the line
partitioner replaces; nltk also downloads a tokenizer model on import. Both are stood in for by
empty modules while it is imported, so it runs offline. It keeps its ablated sequences in a
``datasets.Dataset`` only to hand them to a torch ``DataLoader``; a list of rows stands in for it
(the real one fingerprints its content with dill, which fails with some dill and pyarrow
versions). It needs scikit-learn (its Lasso) and pandas; they may live in separate folders
(``--peers``, appended to the path so that the benchmark's own torch, transformers and numpy are
the ones used).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import numpy as np

from completion_corpus import Case
from faith_ablation import sdpa
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402


class RowDataset(list):  # type: ignore[type-arg]
    """The rows of a column dictionary: all a torch ``DataLoader`` needs of ``datasets.Dataset``."""

    @classmethod
    def from_dict(cls, columns: dict[str, list[Any]]) -> RowDataset:
        names = list(columns)
        return cls({name: values[k] for name, values in columns.items()} for k in range(len(columns[names[0]])))


def import_context_cite(peers: str | None) -> Any | None:
    """The ``context_cite`` module, or None where it (or one of its dependencies) is not installed.

    ``peers``: folders (``os.pathsep``-separated) appended to the path, after the benchmark's own."""
    for folder in (peers or "").split(os.pathsep):
        if folder and folder not in sys.path:
            sys.path.append(folder)
    stand_ins = {"nltk": types.ModuleType("nltk")}
    stand_ins["nltk"].download = lambda *args, **kwargs: True  # type: ignore[attr-defined]
    spacy, lang, english = (types.ModuleType(n) for n in ("spacy", "spacy.lang", "spacy.lang.en"))
    english.English = object  # type: ignore[attr-defined]
    stand_ins.update({"spacy": spacy, "spacy.lang": lang, "spacy.lang.en": english})
    stand_ins["datasets"] = types.ModuleType("datasets")
    stand_ins["datasets"].Dataset = RowDataset  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        import context_cite  # type: ignore[import-not-found]
        import context_cite.utils  # type: ignore[import-not-found]

        # One progress bar per completion would drown the benchmark's log.
        context_cite.utils.tqdm = lambda items, *args, **kwargs: items
        return context_cite
    except ImportError:
        return None
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def line_citer(module: Any, loaded: LoadedModel, case: Case, ablations: int) -> Any:
    """A ``ContextCiter`` over ``case`` whose sources are its lines (see the module docstring)."""
    from context_cite.context_partitioner import BaseContextPartitioner  # type: ignore[import-not-found]

    class LinePartitioner(BaseContextPartitioner):  # type: ignore[misc]
        """The context's whole lines as sources; the cursor line's prefix is always kept."""

        @property
        def num_sources(self) -> int:
            return len(case.lines)

        def split_context(self) -> None:
            return None

        def get_source(self, index: int) -> str:
            return case.lines[index]

        def get_context(self, mask: np.ndarray | None = None) -> str:
            return case.text if mask is None else case.kept_text(np.asarray(mask, dtype=bool))

    class CodeCiter(module.ContextCiter):  # type: ignore[misc,name-defined]
        """The prompt is the code itself and the response is the given completion."""

        def _get_prompt_ids(self, mask: np.ndarray | None = None, return_prompt: bool = False) -> Any:
            prompt = self.partitioner.get_context(mask)
            ids = [int(i) for i in self.tokenizer(prompt, add_special_tokens=True).input_ids]
            return (ids, prompt) if return_prompt else ids

        @property
        def _response_ids(self) -> list[int]:
            return list(case.completion_ids)

    # One sequence per pass: the package pads batches on the left without position ids, which
    # would shift a rotary model's positions; unbatched, each pass is exact.
    return CodeCiter(
        loaded.model,
        loaded.tokenizer,
        case.text,
        "",
        num_ablations=ablations,
        batch_size=1,
        partitioner=LinePartitioner(case.text),
    )


def context_cite_scores(module: Any, loaded: LoadedModel, case: Case, ablations: int) -> tuple[np.ndarray, float]:
    """The package's per-line weights w and bias b for the whole completion (its prediction for a mask
    is b + w . mask, in logit-probability units)."""
    import logging
    import warnings

    logging.getLogger("ContextCite").setLevel(logging.WARNING)
    citer = line_citer(module, loaded, case, ablations)
    # It asks for CUDA autocast on every device; on a CPU that is a no-op with a warning per pass.
    with sdpa(loaded), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weight, bias = citer._get_attributions_for_ids_range(0, len(case.completion_ids))
    return np.asarray(weight, dtype=np.float64), float(bias)
