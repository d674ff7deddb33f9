"""The logit lens and the contrast of two predictions on the embedded model, against references
written here with forward hooks, eager attention and the model's own modules.

Logit lens: for every layer l, softmax(post(lm_head(norm(x^l)))) with x^l the output of decoder
layer l, hooked on a plain forward pass over the window's tokens up to the token.

Contrast: with y the last layer's output at the token, r = 1 / sqrt(mean(y^2) + eps), w the final
norm's weight and d = W_U[predicted] - W_U[alternative], a part p of y adds (p r w) . d; a source
token j adds sum_l sum_h a^lh_ij (v^l_j W_O^lh) . (r w d), read off eager attention and the value
projections' outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.model import LoadedModel, model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.storage import MemoryBudget
from atten_scope.limits import MEMORY_BUDGET_MB
from atten_scope.protocol.builders import view_result
from atten_scope.protocol.encode import token_json
from tests.conftest import build_tiny
from tests.engine.test_contributions import tiny_gemma3
from tests.engine.test_prediction import TEXT as CHAR_TEXT
from tests.engine.test_prediction import WINDOW as CHAR_WINDOW
from tests.engine.test_prediction import CharTokenizer

ROOT = Path(__file__).resolve().parents[2]
SOURCE = (ROOT / "examples" / "tokenizer.py").read_text(encoding="utf-8")[:1600]
WINDOW = 128  # several windows: tokens owned by a later window read its own cache


def position(analysis: Analysis, token: int) -> dict[str, int]:
    return dict(token_json(analysis, token)["range"]["start"])


def hooked_pass(model: Any, ids: list[int]) -> dict[str, Any]:
    """Each decoder layer's input (0) and output (1..L), its attention (o_proj) and MLP outputs at the
    last token, and the model's logits there, from this test's own hooks on a plain forward pass."""
    layers = model.model.layers
    found: dict[str, Any] = {"stream": {}, "attention": {}, "mlp": {}}

    def last(output: Any) -> torch.Tensor:
        return (output[0] if isinstance(output, tuple) else output)[0, -1].detach().clone()

    handles = [
        layers[0].register_forward_pre_hook(
            lambda _m, args, kwargs: found["stream"].__setitem__(
                0, (args[0] if args else kwargs["hidden_states"])[0, -1]
            ),
            with_kwargs=True,
        )
    ]
    for index, layer in enumerate(layers):
        handles += [
            layer.register_forward_hook(lambda _m, _a, o, i=index: found["stream"].__setitem__(i + 1, last(o))),
            layer.self_attn.register_forward_hook(
                lambda _m, _a, o, i=index: found["attention"].__setitem__(i, last(o))
            ),
            layer.mlp.register_forward_hook(lambda _m, _a, o, i=index: found["mlp"].__setitem__(i, last(o))),
        ]
    try:
        with torch.no_grad():
            found["logits"] = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    finally:
        for handle in handles:
            handle.remove()
    return found


def reference_lens(model: Any, ids: list[int]) -> list[torch.Tensor]:
    """softmax(post(lm_head(norm(x^l)))) for l = 1..L: (vocabulary,) each."""
    stream = hooked_pass(model, ids)["stream"]
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    out = []
    with torch.no_grad():
        for layer in range(1, len(model.model.layers) + 1):
            logits = model.lm_head(model.model.norm(stream[layer][None]))[0].float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            out.append(torch.softmax(logits, dim=-1))
    return out


def check_lens(analysis: Analysis, loaded: Any, token: int, atol: float) -> dict[str, Any]:
    """The lens answer at ``token`` equals the reference at every layer, and its last layer the hover's prediction."""
    result = view_result("logitLens", analysis, {"position": position(analysis, token), "topK": 5}, model=loaded)
    win, local = analysis.owner(token)
    reference = reference_lens(loaded.model, win.ids[: local + 1])
    lens = result["logitLens"]
    assert result["layers"] == len(lens) == loaded.info.layers == len(reference)
    assert result["token"]["index"] == token
    for layer, (entry, expected) in enumerate(zip(lens, reference, strict=True)):
        assert entry["layer"] == layer
        ids = [t["id"] for t in entry["top"]]
        probabilities = torch.tensor([t["probability"] for t in entry["top"]])
        assert torch.allclose(probabilities, expected[ids], atol=atol), layer
        assert torch.allclose(probabilities, torch.topk(expected, 5).values, atol=atol), layer
        assert all(isinstance(t["text"], str) and t["text"] for t in entry["top"])
    prediction = analysis.prediction(token)
    assert prediction is not None
    assert [t["id"] for t in lens[-1]["top"]] == [i for i, _ in prediction.top]
    assert [t["probability"] for t in lens[-1]["top"]] == pytest.approx([p for _, p in prediction.top], abs=1e-5)
    return result


@pytest.fixture(scope="module")
def analysis(embedded: Any) -> Analysis:
    analysis = run_analysis(embedded, SOURCE, WINDOW)
    assert len(analysis.windows) >= 3
    return analysis


def test_the_logit_lens_equals_hooked_layers_through_the_norm_and_head(embedded: Any, analysis: Analysis) -> None:
    late = analysis.token_count - 5
    assert analysis.owner(late)[0] is analysis.windows[-1] and analysis.owner(late)[1] > 0
    for token in (0, 40, late):  # the first token (no cache), one in the first window, one in the last
        result = check_lens(analysis, embedded, token, atol=2e-4)
        assert result["recomputedTokens"] == 1  # one token's pass, however long its prefix
        first = [entry["top"][0]["id"] for entry in result["logitLens"]]
        settled = result["settledAt"]
        assert all(choice == first[-1] for choice in first[settled:])
        assert settled == 0 or first[settled - 1] != first[-1]


def test_the_lens_of_a_compact_analysis_ends_in_the_hovers_prediction(embedded: Any) -> None:
    # The language server stores windows in float16: the prefix cache is rounded, the last layer is not.
    compact = run_analysis(embedded, SOURCE, WINDOW, budget=MemoryBudget(MEMORY_BUDGET_MB.default))
    assert compact.windows[0].key.dtype == torch.float16
    check_lens(compact, embedded, compact.token_count - 3, atol=5e-3)


def test_the_contrast_adds_up_to_the_logit_difference(embedded: Any, analysis: Analysis) -> None:
    model = embedded.model
    token = analysis.token_count - 5
    prediction = analysis.prediction(token)
    assert prediction is not None
    alternative = prediction.top[2][0]
    params = {"position": position(analysis, token), "alternative": alternative, "topK": 1000}
    result = view_result("contrast", analysis, params, model=embedded)
    win, local = analysis.owner(token)
    ids = win.ids[: local + 1]
    assert result["recomputedTokens"] == len(ids)
    found = hooked_pass(model, ids)
    logits = found["logits"]
    predicted = int(torch.argmax(logits))
    assert result["predicted"]["id"] == predicted == prediction.top[0][0]
    assert result["alternative"]["id"] == alternative
    assert result["difference"] == pytest.approx(float(logits[predicted] - logits[alternative]), abs=1e-3)
    parts = result["attention"] + result["mlp"] + result["residual"] + result["remainder"]
    assert parts == pytest.approx(result["difference"], abs=1e-9)
    # RMSNorm read at the token's own scale is exact and SmolLM2 has no soft-cap: nothing is left over.
    assert abs(result["remainder"]) < 1e-3
    listed = sum(s["contribution"] for s in result["sources"])
    assert listed + result["otherSources"] == pytest.approx(result["attention"], abs=1e-9)

    # The parts against this test's own decomposition of y, through the final norm linearised at y.
    layers = len(model.model.layers)
    y = found["stream"][layers]
    norm = model.model.norm
    scale = torch.rsqrt(y.pow(2).mean() + norm.variance_epsilon)
    with torch.no_grad():
        weight = model.lm_head.weight
        direction = (weight[predicted] - weight[alternative]) * scale * norm.weight
    assert result["residual"] == pytest.approx(float(found["stream"][0] @ direction), abs=1e-3)
    for layer in range(layers):
        entry = result["layers"][layer]
        assert entry["attention"] == pytest.approx(float(found["attention"][layer] @ direction), abs=1e-3)
        assert entry["mlp"] == pytest.approx(float(found["mlp"][layer] @ direction), abs=1e-3)

    # Each source token's part from eager attention weights and the value projections' outputs.
    values: list[torch.Tensor] = []
    handles = [
        layer.self_attn.v_proj.register_forward_hook(lambda _m, _a, o: values.append(o[0]))
        for layer in model.model.layers
    ]
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            attentions = model(torch.tensor([ids]), output_attentions=True).attentions
    finally:
        for handle in handles:
            handle.remove()
        install_capture_attention(model)
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = config.hidden_size // heads
    expected = torch.zeros(len(ids))
    with torch.no_grad():
        for layer in range(layers):
            projection = model.model.layers[layer].self_attn.o_proj.weight  # (hidden, heads * head_dim)
            value = values[layer].view(len(ids), kv_heads, head_dim)
            for head in range(heads):
                u = projection[:, head * head_dim : (head + 1) * head_dim].T @ direction  # (head_dim,)
                expected += attentions[layer][0, head, -1] * (value[:, head // (heads // kv_heads)] @ u)
    got = torch.zeros(len(ids))
    for source in result["sources"]:
        got[source["token"]["index"] - win.start] = source["contribution"]
    assert torch.allclose(got, expected, atol=1e-3)
    assert float(expected.sum()) == pytest.approx(result["attention"], abs=1e-3)  # SmolLM2 has no output bias


def test_a_text_alternative_is_the_first_choice_shown_so(embedded: Any, analysis: Analysis) -> None:
    token = analysis.token_count - 5
    prediction = view_result("attention", analysis, {"position": position(analysis, token)})["prediction"]
    second = prediction["top"][1]
    params = {"position": position(analysis, token), "alternative": second["text"]}
    result = view_result("contrast", analysis, params, model=embedded)
    assert result["alternative"]["id"] == second["id"]
    assert result["alternative"]["probability"] == pytest.approx(second["probability"], abs=2e-3)


def tiny_reference(model: Any, ids: list[int]) -> list[torch.Tensor]:
    """The reference lens of a tiny model, whichever names its decoder uses (GPT-2's ``transformer.h``, ``ln_f``)."""
    base = model.transformer if hasattr(model, "transformer") else model.model
    layers, norm = (base.h, base.ln_f) if hasattr(base, "h") else (base.layers, base.norm)
    outputs: dict[int, torch.Tensor] = {}
    handles = [
        layer.register_forward_hook(
            lambda _m, _a, o, i=i: outputs.__setitem__(i, (o[0] if isinstance(o, tuple) else o)[0, -1].clone())
        )
        for i, layer in enumerate(layers)
    ]
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
            return [torch.softmax(model.lm_head(norm(outputs[i][None]))[0].float(), -1) for i in range(len(layers))]
    finally:
        for handle in handles:
            handle.remove()


def tiny_analysis(name: str) -> Analysis:
    """A tiny random model of family ``name`` over a short text in several windows (one token a character)."""
    model = tiny_gemma3() if name == "gemma3" else build_tiny(name)
    install_capture_attention(model)
    loaded = LoadedModel(model_info(name, model), model, CharTokenizer(), torch.device("cpu"))
    return run_analysis(loaded, CHAR_TEXT, CHAR_WINDOW)


@pytest.mark.parametrize("name", ["llama-gqa", "mistral-sliding", "gpt2", "gemma3"])
def test_the_lens_of_each_family_reads_its_own_final_norm(name: str) -> None:
    analysis = tiny_analysis(name)
    model = analysis.model
    for token in (0, analysis.token_count - 2):
        result = view_result("logitLens", analysis, {"position": position(analysis, token), "topK": 3})
        win, local = analysis.owner(token)
        reference = tiny_reference(model, win.ids[: local + 1])
        assert len(result["logitLens"]) == len(reference)
        for entry, expected in zip(result["logitLens"], reference, strict=True):
            ids = [t["id"] for t in entry["top"]]
            assert torch.allclose(torch.tensor([t["probability"] for t in entry["top"]]), expected[ids], atol=1e-5)


def test_a_contrast_needs_an_rms_final_norm() -> None:
    analysis = tiny_analysis("gpt2")  # GPT-2 ends in a LayerNorm: its mean and bias are not one scale
    token = analysis.token_count - 2
    with pytest.raises(InvalidRequest, match=r"final norm \(LayerNorm\) is not an RMSNorm"):
        view_result("contrast", analysis, {"position": position(analysis, token), "alternative": 5})
    gemma = tiny_analysis("gemma3")  # random sandwich norms, all linearised at the token's scale
    token = gemma.token_count - 2
    prediction = gemma.prediction(token)
    assert prediction is not None
    params = {"position": position(gemma, token), "alternative": prediction.top[1][0]}
    result = view_result("contrast", gemma, params)
    assert abs(result["remainder"]) < 1e-4 * max(1.0, abs(result["difference"]))
