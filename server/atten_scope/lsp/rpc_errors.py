"""The protocol's errors, and the translation of the engine's errors into them (docs/PROTOCOL.md)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from atten_scope.common.errors import (
    AttenScopeError,
    Cancelled,
    ChangedSinceAnalysis,
    DocumentError,
    InvalidRequest,
    is_out_of_memory,
)

T = TypeVar("T")

REQUEST_FAILED = -32803  # LSP: a well-formed request that could not be carried out
NOT_ANALYSED = -31001  # Atten-Scope: the document has no analysis (never analysed, restart, evicted)
OUT_OF_MEMORY = (
    "Out of memory while computing this view: lower attenScope.memoryBudgetMB, close documents you are not "
    "reading, or choose a view that reads fewer layers or tokens."
)


class RequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


class NotAnalysed(JsonRpcException):
    CODE = NOT_ANALYSED


def translate_errors(handler: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Engine errors become the protocol's errors; a sentence a user understands is the message."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> T:
        try:
            return await handler(*args)
        except JsonRpcException:
            raise
        except Cancelled as error:
            raise JsonRpcRequestCancelled(str(error)) from error
        except ChangedSinceAnalysis as error:
            # ContentModified, with where the still-exact prefix ends so that the client can mark the rest.
            data = {"freshTokens": error.fresh_tokens, "staleFrom": error.stale_from}
            raise JsonRpcContentModified(str(error), data=data) from error
        except (InvalidRequest, DocumentError) as error:
            raise JsonRpcInvalidParams(str(error)) from error
        except AttenScopeError as error:  # ModelLoadError: already shown to the user
            raise RequestFailed(str(error)) from error
        except (MemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            raise RequestFailed(OUT_OF_MEMORY) from error

    return wrapper
