"""The loaded model and the threads that use it.

Model loading and analysis share one worker thread, so torch never runs two forward passes at
once and a reload cannot race an analysis. Views of finished analyses (attention, heatmap, heads,
hover) run on a second thread, so they answer while a long analysis is in progress.

Heavy views (the heatmap: ``registry.View.heavy``) run on a third thread and pause at each
``cancellation.check()`` while a light view (a cursor request, a hover) runs on the views thread,
so a cursor move waits for at most one row block of a heatmap, and a heatmap never queues in front
of it.

Work that makes later requests fast (``when_idle``) runs on the views thread while no request
runs: every request stops it at its next ``cancellation.check()``, and it resumes after the last.

A newer model setting supersedes the model's load and every analysis on the model thread: each
stops at its next ``cancellation.check()`` (a first-use conversion runs in a child process, which
is ended), so the newest setting is served without waiting for the old one. The user can stop a
load the same way (``Engine.cancel_load``); the next request that needs the model loads it again.

The engine knows nothing of the server: it reports through the callbacks of ``EngineEvents``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from atten_scope.common import errors
from atten_scope.common.cancellation import Gate, cancellable, check, yielding_to
from atten_scope.common.errors import Cancelled, ModelLoadError
from atten_scope.common.progress import ReportProgress
from atten_scope.common.quoting import detail, quoted, shorten
from atten_scope.engine.model import LoadedModel, load_model
from atten_scope.lsp.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
ModelKey = tuple[str, str, bool]  # Settings.model_key
KeptModel = tuple[ModelKey, LoadedModel]  # a loaded model handed from one client session to the next
Loader = Callable[..., LoadedModel]  # load_model's signature
IDLE_DELAY_S = 0.3  # quiet time before idle work (re)starts: cursor requests come in bursts


def _nothing(*_: Any) -> None:
    pass


SUPERSEDED = "The model setting changed while the model loaded."


class LoadCancel(threading.Event):
    """The cancel event of one model load, with why it was set: the message of its ``Cancelled``."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = SUPERSEDED

    def stop(self, reason: str) -> None:
        self.reason = reason
        self.set()


@dataclass(frozen=True)
class EngineEvents:
    """How the engine tells the user what it does; each may be called from any thread."""

    status: Callable[[str, str, str | None], None] = _nothing  # (state, message, model)
    error: Callable[[str], None] = _nothing  # a sentence shown to the user


class Engine:
    def __init__(self, events: EngineEvents | None = None, loader: Loader | None = None) -> None:
        self.events = events or EngineEvents()
        self.loader = loader  # None: ``load_model``, looked up when a load starts
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atten-scope-model")
        self.views = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atten-scope-views")
        self.heavy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atten-scope-heavy")
        self.light = Gate()  # light views in progress: heavy ones wait at their checks meanwhile
        self.loaded: LoadedModel | None = None
        self.loaded_key: tuple[str, str, bool] | None = None
        # Bumped whenever the model is replaced: results computed with an older model are discarded.
        self.generation = 0
        self._loading: asyncio.Future[LoadedModel] | None = None
        self._loading_key: tuple[str, str, bool] | None = None
        self._load_cancel = LoadCancel()  # set when a newer model setting supersedes the load, or it is cancelled
        self._on_model: set[threading.Event] = set()  # cancel events of the work queued or running on the model thread
        self._in_flight: set[threading.Event] = set()  # ... and on every thread
        self.wanted_key: tuple[str, str, bool] | None = None  # the model the settings name
        self._load_watchers: list[ReportProgress] = []  # requests that wait for the load: they hear its steps
        self._load_step = ""  # the load's latest step, for a request that starts waiting midway
        self._background: set[asyncio.Future[Any]] = set()
        self._requests = 0  # run/view calls in flight
        self._idle: dict[str, tuple[Callable[[], None], str]] = {}  # key -> (work, what), oldest first
        self._idle_task: asyncio.Future[None] | None = None
        self._idle_cancel: threading.Event | None = None
        self._kept: KeptModel | None = None

    async def run(self, fn: Callable[[], T], cancel: threading.Event | None = None) -> T:
        """Run ``fn`` on the model thread (loading, analysis); see ``_submit`` for cancellation."""
        return await self._submit(self.worker, fn, cancel)

    async def view(self, fn: Callable[[], T], cancel: threading.Event | None = None, heavy: bool = False) -> T:
        """Run ``fn`` on the views thread, or when ``heavy`` on the heavy-views thread, yielding to
        the light views at each ``cancellation.check()``; see ``_submit`` for cancellation."""
        if heavy:

            def yielding() -> T:
                with yielding_to(self.light):
                    return fn()

            return await self._submit(self.heavy, yielding, cancel)
        return await self._submit(self.views, lambda: self.light.run(fn), cancel)

    async def _submit(self, executor: ThreadPoolExecutor, fn: Callable[[], T], cancel: threading.Event | None) -> T:
        """Cancelling the caller, or setting ``cancel``, stops ``fn`` at its next ``cancellation.check()``.

        Idle work gives way to it (see ``when_idle``)."""
        event = cancel or threading.Event()

        def call() -> T:
            with cancellable(event):
                return fn()

        self._requests += 1
        if self._idle_cancel is not None:
            self._idle_cancel.set()
        tracked = (self._in_flight, self._on_model) if executor is self.worker else (self._in_flight,)
        for events in tracked:
            events.add(event)
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except asyncio.CancelledError:
            event.set()
            raise
        finally:
            for events in tracked:
                events.discard(event)
            self._requests -= 1
            self._resume_idle()

    def when_idle(self, key: str, work: Callable[[], None], what: str) -> None:
        """Run ``work`` on the views thread while no request runs, until it returns; a later work
        under the same ``key`` replaces it. A request stops it at its next ``cancellation.check()``
        and it starts again IDLE_DELAY_S after the last request ends, so ``work`` must keep what it
        finished (and skip it when run again). A failure is logged."""
        self._idle.pop(key, None)
        self._idle[key] = (work, what)
        self._resume_idle()

    def drop_idle(self, key: str) -> None:
        """Forget the idle work under ``key`` (its document closed); a run in progress stops."""
        if self._idle.pop(key, None) is not None and self._idle_cancel is not None:
            self._idle_cancel.set()

    def _resume_idle(self) -> None:
        if self._idle and not self._requests and self._idle_task is None:
            self._idle_task = asyncio.ensure_future(self._run_idle())

    async def _run_idle(self) -> None:
        try:
            await asyncio.sleep(IDLE_DELAY_S)
            while self._idle and not self._requests:
                key, entry = next(iter(self._idle.items()))
                work, what = entry
                event = self._idle_cancel = threading.Event()

                def call(work: Callable[[], None] = work, event: threading.Event = event) -> None:
                    with cancellable(event):
                        work()

                try:
                    await asyncio.get_running_loop().run_in_executor(self.views, call)
                except Cancelled:
                    continue  # a request came, or the work was dropped: the loop condition decides
                except Exception as error:  # logged, then dropped: idle work must not retry forever
                    log.warning("%s failed: %s", what, error)
                if self._idle.get(key) is entry:
                    del self._idle[key]
        finally:
            self._idle_task = None
            self._idle_cancel = None

    async def release_when_quiet(self) -> None:
        """``release_memory`` once each engine thread has finished what it was running.

        Work on a closed document can still be ending on any thread (an analysis on the model
        thread, an idle-time build or a heatmap on the views threads, each stopping at its next
        check); trimming before they drop their tensors would leave those pages with the process.
        """
        loop = asyncio.get_running_loop()
        for executor in (self.views, self.heavy):
            await loop.run_in_executor(executor, lambda: None)
        await loop.run_in_executor(self.worker, release_memory)

    def in_background(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``work`` without a caller waiting on it; a failure is logged, never swallowed."""
        task = asyncio.ensure_future(work)
        self._background.add(task)

        def done(future: asyncio.Future[Any]) -> None:
            self._background.discard(future)
            error = None if future.cancelled() else future.exception()
            if isinstance(error, Cancelled):  # superseded (a newer model setting): nothing went wrong
                log.info("%s stopped: %s", what, error)
            elif error is not None:
                log.warning("%s failed: %s", what, error)

        task.add_done_callback(done)

    async def ensure_loaded(self, settings: Settings, progress: ReportProgress | None = None) -> LoadedModel:
        """The model ``settings`` name, loaded once; ``progress`` hears the load's steps while it waits."""
        key = settings.model_key
        self.wanted_key = key
        kept, self._kept = self._kept, None
        if kept is not None and kept[0] == key and self.loaded is None:
            self.loaded, self.loaded_key = kept[1], key
        if self.loaded is not None and self.loaded_key == key:
            return self.loaded
        if self._loading is None or self._loading_key != key:
            self._loading_key = key
            self._load_cancel = LoadCancel()
            self._load_step = f"Loading {shorten(settings.model)}"
            self._loading = asyncio.ensure_future(self._load(settings, self._load_cancel))
        if progress is not None:
            self._load_watchers.append(progress)
            if self._load_step:
                progress(None, self._load_step)
        try:
            # Shielded: cancelling one analysis must not abort a load other requests wait for.
            return await asyncio.shield(self._loading)
        finally:
            if progress is not None:
                self._load_watchers.remove(progress)

    def model_changed(self, settings: Settings) -> bool:
        """Forget the model when ``settings`` name another one; True when it should be loaded again now.

        The load and the model-thread work under the previous setting stop at their next check."""
        key = settings.model_key
        if self.wanted_key == key:
            return False
        untouched = self.wanted_key is None and self.loaded is None and self._loading is None
        self.wanted_key = key
        if self._kept is not None and self._kept[0] != key:
            self._kept = None  # the previous session's model is not the one wanted
        if untouched:
            return False  # nothing loaded yet: the first analysis loads it
        self.generation += 1
        self.loaded = None
        self.loaded_key = None
        self._loading = None
        self._loading_key = None
        self._load_cancel.set()
        for event in list(self._on_model):
            event.set()
        return True

    def cancel_load(self) -> str | None:
        """Stop the model load in progress at its next check (a first-use conversion's child process
        is ended, and nothing of it is kept); the requests waiting for it fail with ``Cancelled``, and
        the next request that needs the model loads it again. The model whose load stopped, or None
        when none was loading."""
        if self._loading is None or self._loading_key is None:
            return None
        model = self._loading_key[0]
        self._loading = None
        self._loading_key = None
        self._load_cancel.stop(f"Loading {shorten(model)} was cancelled.")
        return model

    def keep(self, kept: KeptModel) -> None:
        """Start with the model an earlier session loaded; it serves the first load that names it."""
        self._kept = kept

    async def _load(self, settings: Settings, cancel: LoadCancel) -> LoadedModel:
        events = self.events
        if cancel.is_set():  # stopped before it began: it must not announce itself after the stop
            raise Cancelled(cancel.reason)
        events.status("loadingModel", f"Loading {shorten(settings.model)}", settings.model)

        def progress(fraction: float | None, message: str) -> None:
            if cancel.is_set():  # a step reached after the stop would show the load as running again
                return
            events.status("loadingModel", message, settings.model)
            self._load_step = message
            for watcher in list(self._load_watchers):
                watcher(None, message)  # the load's fraction is not the request's

        def load() -> LoadedModel:
            check()  # superseded while it waited for the model thread
            release_memory()  # the previous model's tensors are unreferenced by now
            return (self.loader or load_model)(
                settings.model, settings.device, settings.trust_remote_code, progress=progress
            )

        try:
            loaded = await self.run(load, cancel)
        except Exception as error:  # every load failure is reported, then re-raised
            if self._load_cancel is cancel:  # still the current load: each load has its own cancel event
                self._loading = None
                self._loading_key = None
            if isinstance(error, Cancelled):  # superseded by a newer setting, cancelled, or the session ended
                log.info("Stopped loading %s: %s", settings.model, cancel.reason)
                raise Cancelled(cancel.reason) from error
            message = load_failure(settings.model, error)
            events.status("error", message, settings.model)
            events.error(message)
            raise ModelLoadError(message) from error
        # A load cancelled after its last check finished all the same: its model is kept while it is
        # still the current load and the model wanted.
        if self._load_cancel is cancel and self.wanted_key == settings.model_key:
            self.loaded, self.loaded_key = loaded, settings.model_key
            self._loading = None
            self._loading_key = None
            info = loaded.info
            events.status(
                "ready", f"{info.id}: {info.layers} layers x {info.heads} heads on {loaded.device.type}", info.id
            )
        return loaded

    def shutdown(self) -> None:
        self._idle.clear()
        if self._idle_cancel is not None:
            self._idle_cancel.set()
        self.worker.shutdown(wait=False, cancel_futures=True)
        self.views.shutdown(wait=False, cancel_futures=True)
        self.heavy.shutdown(wait=False, cancel_futures=True)

    def close(self) -> KeptModel | None:
        """Stop all work at its next check and wait for the threads to end (blocking: call it off the
        event loop); the loaded model, for a later session, if there is one."""
        self.shutdown()
        self._load_cancel.set()
        for event in list(self._in_flight):
            event.set()
        for executor in (self.worker, self.views, self.heavy):
            executor.shutdown(wait=True)
        loaded, key = self.loaded, self.loaded_key
        return (key, loaded) if loaded is not None and key is not None else self._kept


def load_failure(model_id: str, error: BaseException) -> str:
    """A sentence for a failed load: missing packages and lack of memory need the user's action."""
    if isinstance(error, ModelLoadError):
        return str(error)
    if isinstance(error, ImportError):
        missing = detail(str(error), model_id)
        return (
            f"A Python package needed for model {quoted(model_id)} is missing ({missing}): install it for the server."
        )
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return f"Out of memory while loading {quoted(model_id)}: choose a smaller model or another device."
    log.exception("Loading %s failed", model_id)
    return f"Could not load model {quoted(model_id)}: {type(error).__name__}: {detail(str(error), model_id)}"


def is_out_of_memory(error: BaseException) -> bool:
    return errors.is_out_of_memory(error)


def release_memory() -> None:
    """Give freed tensors back to the system: an analysis is hundreds of megabytes.

    glibc keeps freed heap pages for reuse (RSS stays high after a document closes) until
    ``malloc_trim`` returns them; CUDA's caching allocator likewise until ``empty_cache``.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): the allocator decides
        pass
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # best effort only
        pass
