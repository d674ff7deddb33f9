"""What differs between model families, in one table: module names, config names, logit post-processing.

Model loading, capture, the contribution decomposition and the LM head read a model through its
family here rather than through names written into each of them; a new family is one entry of
``FAMILIES``. A model whose ``model_type`` no entry names gets ``GENERIC``, which tries every name
any family uses, in the order the engine always tried them.

The LM head's logits z are post-processed by the family's ``logits`` steps in order, each with a
constant c read from the model's config (a step whose constant is missing, or 0 for a divisor
or a cap, is skipped):

    scale:    z * c               (Cohere's ``logit_scale``)
    divide:   z / c               (Granite's ``logits_scaling``)
    softcap:  tanh(z / c) * c     (Gemma 2/3's ``final_logit_softcapping``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LogitKind = Literal["scale", "divide", "softcap"]
# Every attention output projection name a supported family uses, in the order they are tried.
ALL_PROJECTIONS = ("o_proj", "c_proj", "out_proj", "dense", "wo")
# Every name of the decoder's final norm (before the LM head) a supported family uses, tried in order.
ALL_FINAL_NORMS = ("norm", "ln_f", "final_layernorm", "final_norm")


@dataclass(frozen=True)
class ConfigNames:
    """Config attribute names of the model's shapes: for each, the first one set is read."""

    heads: tuple[str, ...] = ("num_attention_heads", "n_head")
    kv_heads: tuple[str, ...] = ("num_key_value_heads",)
    hidden: tuple[str, ...] = ("hidden_size", "n_embd")
    layers: tuple[str, ...] = ("num_hidden_layers", "n_layer")
    head_dim: tuple[str, ...] = ("head_dim",)
    multi_query: str | None = "multi_query"  # a flag that means one KV head for all (GPTBigCode)

    def read(self, config: Any, names: tuple[str, ...]) -> Any:
        """The first of ``names`` set (not None, not 0) on ``config``; None when none is."""
        for name in names:
            value = getattr(config, name, None)
            if value:
                return value
        return None


@dataclass(frozen=True)
class LogitStep:
    """One post-processing step of the LM head's logits, with its constant's config key."""

    kind: LogitKind
    key: str

    def constant(self, config: Any) -> float | None:
        """The step's constant c from ``config``; None when the step does not apply."""
        value = getattr(config, self.key, None)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if self.kind != "scale" and value == 0:  # a 0 divisor or cap means "off" in the configs
            return None
        return float(value)


SCALE = LogitStep("scale", "logit_scale")
DIVIDE = LogitStep("divide", "logits_scaling")
SOFTCAP = LogitStep("softcap", "final_logit_softcapping")


@dataclass(frozen=True)
class Family:
    """The names and quirks of one model family.

    ``sandwich``: the names of the norms on the attention and on the MLP output (Gemma 2/3,
    OLMo 2); they are read as such only when a layer has the MLP one, since Llama-style layers
    use the name ``post_attention_layernorm`` for the norm *before* their MLP.
    """

    name: str
    model_types: tuple[str, ...]
    projections: tuple[str, ...] = ("o_proj",)  # attention output projection, tried in order
    mlp: str = "mlp"
    sandwich: tuple[str, str] | None = None
    logits: tuple[LogitStep, ...] = ()
    attention_suffix: str = "Attention"  # class-name suffix of the attention modules (with layer_idx)
    norm_eps: tuple[str, ...] = ("eps", "variance_epsilon")  # RMSNorm epsilon attribute names
    final_norm: tuple[str, ...] = ("norm",)  # the decoder's norm before the LM head, tried in order
    config: ConfigNames = field(default_factory=ConfigNames)


_SANDWICH = ("post_attention_layernorm", "post_feedforward_layernorm")

GENERIC = Family(
    name="generic",
    model_types=(),
    projections=ALL_PROJECTIONS,
    sandwich=_SANDWICH,
    logits=(SCALE, DIVIDE, SOFTCAP),
    final_norm=ALL_FINAL_NORMS,
)

FAMILIES: tuple[Family, ...] = (
    Family("llama", ("llama", "mistral", "qwen2", "qwen3", "starcoder2")),
    Family("gpt2", ("gpt2", "gpt_bigcode"), projections=("c_proj",), final_norm=("ln_f",)),
    Family("gemma", ("gemma2", "gemma3", "gemma3_text"), sandwich=_SANDWICH, logits=(SOFTCAP,)),
    Family("olmo2", ("olmo2",), sandwich=_SANDWICH),
    Family("cohere", ("cohere", "cohere2"), logits=(SCALE,)),
    Family("granite", ("granite",), logits=(DIVIDE,)),
)

_BY_TYPE = {model_type: family for family in FAMILIES for model_type in family.model_types}


def family_of(model_or_config: Any) -> Family:
    """The family of a model or config by its ``model_type`` (its text config's for a multimodal
    wrapper); ``GENERIC`` for a type no entry names."""
    config = getattr(model_or_config, "config", model_or_config)
    candidates = [config]
    text = getattr(config, "get_text_config", None)
    if callable(text):
        candidates.append(text())
    for candidate in candidates:
        family = _BY_TYPE.get(str(getattr(candidate, "model_type", "")))
        if family is not None:
            return family
    return GENERIC
