"""The Hugging Face Hub, for a model named by its Hub id: say up front that the network is used,
and find out in a few seconds, not after transformers' retries (~50 s), when it cannot be reached.

A model already in the local Hugging Face cache still loads offline: when the Hub cannot be
reached, the load is told to use local files only, and only a model missing from the cache fails,
with a sentence saying what to do.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

from atten_scope.common.progress import ReportProgress
from atten_scope.common.quoting import quoted, shorten

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 3.0  # name lookup and TCP connect together; a reachable Hub answers in well under 1 s
_TRUE = ("1", "true", "yes", "on")


def offline_mode() -> bool:
    """Whether the user asked huggingface_hub never to use the network (HF_HUB_OFFLINE)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def endpoint() -> tuple[str, int]:
    """The Hub's host and port: HF_ENDPOINT where set (a mirror), else huggingface.co."""
    parsed = urlparse(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    host = parsed.hostname or "huggingface.co"
    return host, parsed.port or (80 if parsed.scheme == "http" else 443)


def reachable(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to host:port opens within ``timeout`` seconds.

    The lookup runs on a helper thread because ``getaddrinfo`` takes no timeout: without a DNS
    server it can block for tens of seconds.
    """
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=attempt, name="atten-scope-hub-check", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def prepare_download(model_id: str, report: ReportProgress) -> bool:
    """Announce the download of ``model_id`` and check the Hub; True when only local files may be used."""
    if offline_mode():
        report(None, f"Loading {shorten(model_id)} from the local Hugging Face cache (HF_HUB_OFFLINE is set)")
        return True
    host, port = endpoint()
    report(None, f"Downloading {shorten(model_id)} from the Hugging Face Hub ({host})")
    if reachable(host, port):
        return False
    report(None, f"The Hugging Face Hub ({host}) cannot be reached: looking for {shorten(model_id)} in the local cache")
    return True


def not_available_offline(model_id: str) -> str:
    """The sentence for a Hub model that is neither reachable nor cached."""
    host, _ = endpoint()
    why = "HF_HUB_OFFLINE is set" if offline_mode() else f"the Hugging Face Hub ({host}) cannot be reached"
    return (
        f"Could not load model {quoted(model_id)}: {why} and it is not in the local Hugging Face cache. "
        "Connect to the network and try again, or set attenScope.model to a local directory or .gguf file."
    )
