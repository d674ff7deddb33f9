"""The JSON-RPC side of the server: plain-JSON params, the capabilities it announces, lifecycle rules."""

from __future__ import annotations

import logging
import re
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
# An unpaired UTF-16 surrogate: JSON can escape one (a JavaScript string may hold it), Unicode text cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")
# The cancellations a client sends and the field that names what they cancel.
_CANCELS = {types.CANCEL_REQUEST: "id", types.WINDOW_WORK_DONE_PROGRESS_CANCEL: "token"}
log = logging.getLogger(__name__)


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


def valid_unicode(value: Any) -> Any:
    """``value`` (decoded JSON) with each unpaired UTF-16 surrogate in its strings replaced by U+FFFD.

    The tokenizer and UTF-8 refuse them. U+FFFD is one UTF-16 code unit too, so every LSP position
    (UTF-16 offsets) in the document means what the client meant."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {valid_unicode(key): valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    return value


class Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        # pygls reads a message with this as json.loads' object_hook, which sees every object of the
        # message, the params' own included: an object with a "jsonrpc" key somewhere in the params
        # was read as a message of its own, and the request around it was never answered. Objects
        # stay plain here; ``handle_message`` reads the message as a whole.
        return data

    def handle_message(self, message: Any) -> None:
        if isinstance(message, dict):
            message = valid_unicode(message)
            try:
                message = super().structure_message(message)
            except JsonRpcException as error:
                self._refuse(message, error)
                return
        # LSP: after shutdown every request but exit is answered with InvalidRequest; pygls drops them.
        if self._shutdown and isinstance(message, RPCRequest) and message.method != types.EXIT:
            reply = JsonRpcInvalidRequest("The server is shutting down: no more requests.")
            self._send_response(message.id, None, reply.to_response_error())
            return
        method = getattr(message, "method", None)
        field = _CANCELS.get(method) if isinstance(method, str) and not isinstance(message, RPCRequest) else None
        if field is not None:
            key = getattr(message.params, field, None)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                # pygls would fail on it (an unhashable key) and log an internal error for the client's mistake.
                log.warning("Ignored %s: its %s is not a string or an integer.", method, field)
                return
        super().handle_message(message)

    def _refuse(self, data: dict[str, Any], error: JsonRpcException) -> None:
        """A message whose params do not fit the LSP types: a request is answered InvalidParams (pygls
        would drop it and the client would wait forever), a notification is logged and dropped."""
        if "id" in data and "method" in data:
            reply = JsonRpcInvalidParams(f"The parameters of {data['method']} are malformed.")
            self._send_response(data["id"], None, reply.to_response_error())
        else:
            log.warning("Ignored a malformed message (%.80s): %s", data.get("method"), error.__cause__ or error)

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
