"""Hooks belong to the pass that registered them: another thread's pass over the same model does
not fire them, and they are gone after the pass, whether it fails inside or while registering."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from atten_scope.common.errors import Cancelled
from atten_scope.engine import hooks as hooks_module
from atten_scope.engine.analysis import _layer_step
from atten_scope.engine.capture import run_capture
from atten_scope.engine.contributions import contributions
from atten_scope.engine.hooks import hooked
from atten_scope.engine.recorder import install_capture_attention
from tests.conftest import build_tiny

IDS = [(5 * i + 3) % 120 + 2 for i in range(24)]
OTHER = [(11 * i + 7) % 120 + 2 for i in range(17)]  # another length: its rows cannot pass for IDS's


@pytest.fixture(scope="module")
def model() -> Any:
    model = build_tiny("llama-gqa")
    install_capture_attention(model)
    return model


def registered(model: Any) -> int:
    """Forward and pre-forward hooks left on any module of ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def in_thread(work: Any) -> Any:
    """Run ``work()`` on another thread and wait for it; its result, or its exception raised here."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as error:  # re-raised on the calling thread
            box["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_another_threads_pass_neither_fires_the_analysis_hooks_nor_moves_its_progress(model: Any) -> None:
    layers = model.config.num_hidden_layers
    alone = run_capture(model, IDS, 0)
    expected_parts = contributions(model, OTHER)
    reports: list[tuple[float | None, str, int]] = []
    other: dict[str, Any] = {}

    def progress(fraction: float | None, message: str) -> None:
        reports.append((fraction, message, threading.get_ident()))
        if len(reports) == 1:  # mid-analysis, before its first layer: a flow pass and a plain pass
            other["parts"] = in_thread(lambda: contributions(model, OTHER))
            other["logits"] = in_thread(lambda: model(input_ids=torch.tensor([OTHER])).logits)

    step = _layer_step(progress, 0, len(IDS), len(IDS), layers, "")
    win = run_capture(model, IDS, 0, check_cancelled=step)
    assert [fraction for fraction, _, _ in reports] == pytest.approx([i / layers for i in range(layers)])
    assert {thread for _, _, thread in reports} == {threading.get_ident()}
    assert win.hidden is not None and alone.hidden is not None
    assert torch.allclose(win.hidden, alone.hidden, atol=1e-5)  # its final hidden states, not the other pass's
    assert torch.allclose(win.lse, alone.lse, atol=1e-5)
    # The other thread's pass kept its own hooks and state too.
    assert torch.allclose(other["parts"].hidden, expected_parts.hidden, atol=1e-5)
    assert other["logits"].shape[1] == len(OTHER)
    assert registered(model) == 0


def test_a_hook_runs_only_for_the_thread_that_registered_it() -> None:
    module = torch.nn.Linear(4, 4)
    calls: list[int] = []
    with hooked() as hooks:
        hooks.pre(module, lambda *_: calls.append(threading.get_ident()))
        hooks.forward(module, lambda *_: calls.append(threading.get_ident()))
        in_thread(lambda: module(torch.ones(1, 4)))
        assert calls == []
        module(torch.ones(1, 4))
        assert calls == [threading.get_ident()] * 2
    assert not module._forward_hooks and not module._forward_pre_hooks


def test_hooks_are_removed_after_an_exception_inside_the_pass(model: Any) -> None:
    seen = [0]

    def cancel_at_second_layer() -> None:
        seen[0] += 1
        if seen[0] == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        run_capture(model, IDS, 0, check_cancelled=cancel_at_second_layer)
    assert registered(model) == 0
    seen[0] = 0
    with pytest.raises(Cancelled):
        contributions(model, IDS, check_cancelled=cancel_at_second_layer)
    assert registered(model) == 0


@pytest.mark.parametrize("pass_name", ["capture", "contributions"])
def test_hooks_are_removed_after_an_exception_while_registering(
    model: Any, pass_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forward hook's registration fails after others were made: those are removed all the same."""
    register = hooks_module.Hooks.forward
    before_failure: list[int] = []

    def failing(self: Any, module: Any, hook: Any, **kwargs: Any) -> None:
        if len(self._handles) >= 3:  # capture: its per-layer pre-hooks; contributions: layer 0's first three
            before_failure.append(registered(model))
            raise RuntimeError("registration failed")
        register(self, module, hook, **kwargs)

    monkeypatch.setattr(hooks_module.Hooks, "forward", failing)
    with pytest.raises(RuntimeError, match="registration failed"):
        if pass_name == "capture":
            run_capture(model, IDS, 0, check_cancelled=lambda: None)
        else:
            contributions(model, IDS)
    assert before_failure == [3]
    assert registered(model) == 0


def test_the_context_removes_what_it_registered_when_registering_fails() -> None:
    module = torch.nn.Linear(4, 4)
    with pytest.raises(AttributeError), hooked() as hooks:
        hooks.forward(module, lambda *_: None)
        hooks.pre(module, lambda *_: None)
        hooks.forward(object(), lambda *_: None)  # not a module
    assert not module._forward_hooks and not module._forward_pre_hooks
