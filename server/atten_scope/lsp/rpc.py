"""The JSON-RPC side of the server: plain-JSON params, the capabilities it announces, lifecycle rules."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    LanguageServerProtocol,
    default_converter,
    lsp_method,
)
from pygls.protocol.json_rpc import RPCRequest

from atten_scope import registry
from atten_scope.engine.embedded import EMBEDDED_MODELS
from atten_scope.views.evidence import recommended_views

CAPABILITIES_KEY = "attenScope"  # under capabilities.experimental in the initialize result


def json_converter() -> cattrs.Converter:
    """pygls' converter, except that custom messages keep their params as plain JSON.

    By default they become namedtuples, which renames keys that are not identifiers and cannot be
    told apart from lists; a message without ``params`` would not even be answered.
    """
    converter = default_converter()

    def request(obj: dict[str, Any], cls: type) -> Any:
        return cls(id=obj.get("id"), method=obj.get("method"), jsonrpc=obj.get("jsonrpc"), params=obj.get("params"))

    def notification(obj: dict[str, Any], cls: type) -> Any:
        return cls(method=obj.get("method"), jsonrpc=obj.get("jsonrpc"), params=obj.get("params"))

    converter.register_structure_hook(JsonRPCRequestMessage, request)
    converter.register_structure_hook(JsonRPCNotification, notification)
    return converter


class Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException:
            # pygls drops a request whose params do not fit the LSP types: answer it, or the client waits forever.
            if isinstance(data, dict) and "id" in data and "method" in data:
                reply = JsonRpcInvalidParams(f"The parameters of {data['method']} are malformed.")
                self._send_response(data["id"], None, reply.to_response_error())
            raise

    def handle_message(self, message: Any) -> None:
        # LSP: after shutdown every request but exit is answered with InvalidRequest; pygls drops them.
        if self._shutdown and isinstance(message, RPCRequest) and message.method != types.EXIT:
            reply = JsonRpcInvalidRequest("The server is shutting down: no more requests.")
            self._send_response(message.id, None, reply.to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        """pygls' initialize, plus what this server offers under ``capabilities.experimental``."""
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        version = result.server_info.version if result.server_info and result.server_info.version else "0.0.0"
        offered = registry.capabilities_json(version)
        offered["models"] = [
            {"id": m.id, "label": m.label, "installed": m.installed(), "install": m.install}
            for m in EMBEDDED_MODELS.values()
        ]
        # Per measured model, the view a client should show when the user has not chosen one.
        offered["recommendedViews"] = recommended_views()
        result.capabilities.experimental = {CAPABILITIES_KEY: offered}
        return result
