"""Errors a user can act on. Their message is one sentence, shown as-is by the CLI and the editor."""

from __future__ import annotations


class AttenScopeError(Exception):
    """A failure caused by input or environment, not by a bug: report the message, no traceback."""


class InvalidRequest(AttenScopeError):
    """Parameters that cannot be honoured (unknown refinement, position past the end, ...)."""


class ChangedSinceAnalysis(AttenScopeError):
    """The token asked about was edited after the analysis; ``fresh_tokens`` tokens before it are still exact."""

    def __init__(self, message: str, fresh_tokens: int, stale_from: dict[str, int]) -> None:
        super().__init__(message)
        self.fresh_tokens = fresh_tokens
        self.stale_from = stale_from  # the LSP position where the edited part begins


class ModelLoadError(AttenScopeError):
    """The model could not be found, downloaded or loaded."""


class DocumentError(AttenScopeError):
    """The document cannot be analysed (binary, unreadable, too large)."""


class Cancelled(AttenScopeError):
    """The caller cancelled a long-running operation."""

    def __init__(self, message: str = "The analysis was cancelled.") -> None:
        super().__init__(message)


# How allocators word a failed allocation: PyTorch's CPU allocator ("DefaultCPUAllocator: can't
# allocate memory"), CUDA and MPS ("CUDA out of memory", "MPS backend out of memory").
_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation, which the user can act on, rather than a bug."""
    if isinstance(error, MemoryError):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error).lower() for words in _OUT_OF_MEMORY)
