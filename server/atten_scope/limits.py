"""The limits of every request and setting, and their defaults, as data (no torch).

The registry announces them to the client (``registry.capabilities_json``); the params parser,
the settings and the CLI refuse a value outside them (never clamp: docs/PROTOCOL.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    minimum: int
    maximum: int
    default: int

    def to_json(self) -> dict[str, int]:
        return {"min": self.minimum, "max": self.maximum, "default": self.default}


MAX_TOKENS = Limit(16, 131_072, 4096)  # the window size, in tokens
TOP_K = Limit(1, 1000, 20)
CACHE_DOCUMENTS = Limit(1, 256, 8)
# Megabytes of captured state held in memory, over every analysed document (storage.py); beyond
# it windows are spilled to disk. 3 GB plus the model and runtime (~1 GB for the embedded model)
# leaves a 16 GB laptop most of its memory for the editor and everything else.
MEMORY_BUDGET_MB = Limit(256, 1_048_576, 3072)
# Megabytes of analyses kept on disk (analysis_cache.py), so a document reopened, also after a
# restart, is restored instead of analysed again; 0 turns it off. An 8,000-token file's analysis
# takes about 0.8 GB with the embedded model (bench/RESULTS.md): 4 GB keeps five such files.
ANALYSIS_CACHE_MB = Limit(0, 1_048_576, 4096)
FLOW_NODES = Limit(5, 300, 200)  # nodes of an information-flow graph: a token keeps 3 a layer on its own
FLOW_THRESHOLD = 0.04  # the least importance of an edge the flow graph keeps (0 < t < 1)
# Tokens of context an ALTI rollout covers, the token included: its cost grows with their square
# (bench/RESULTS.md, 2 CPU cores: about 5 s at 512 tokens, 50 s at 2,048 and 3 minutes at 4,096,
# with progress and cancellable); twice the default window, beyond which it would take a quarter
# of an hour on such a machine.
ALTI_TOKENS = 8192
# Random ablations of the context an explanation runs the model on (each a pass over the tokens
# from its first removed line on). With 32, the Lasso's held-out LDS averaged 0.78 over eight
# 8-token completions of 190-250-token contexts on SmolLM2 (views/surrogate.py).
ABLATIONS = Limit(8, 256, 32)
MAX_NEW_TOKENS = Limit(1, 256, 48)  # tokens a completion may have (forced ones included)
ALTERNATIVES = Limit(0, 20, 5)  # alternatives shown per completion token
LENS_TOP = Limit(1, 20, 5)  # first choices per layer of a logit lens
# What an analysis may read before the document (attenScope/analyze contextFiles): a window of
# 4,096 tokens holds about 16,000 characters of code, and a token sees at most one window back, so
# more context would mostly cost time; the files' texts together, and how many files.
CONTEXT_CHARACTERS = 64_000
CONTEXT_FILES = 32
HEATMAP_BINS = 1024  # cells a side of a heatmap overview: about what a screen shows
HEATMAP_TOKENS = 1024  # tokens a side of an exact heatmap tile (2 bytes a cell: 2 MB at most)
PYTHON = ">=3.10"  # the same bound as pyproject.toml's requires-python
