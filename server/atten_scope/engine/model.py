"""Model loading: the embedded default, any Hugging Face causal LM id, or a local path."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from atten_scope.common.cancellation import check
from atten_scope.common.errors import ModelLoadError
from atten_scope.common.progress import ReportProgress
from atten_scope.common.quoting import detail, quoted, shorten
from atten_scope.engine import embedded, hub
from atten_scope.engine.families import family_of
from atten_scope.engine.recorder import install_capture_attention

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    # Rotary position embedding: the leading dimensions of each head it rotates, in rotate-half
    # pairs (t, t + rotary_dims / 2); 0 for a model without it (absolute positions, GPT-2).
    rotary_dims: int = 0
    rope_theta: float | None = None  # the base of the rotation frequencies, when one holds for every layer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "layers": self.layers,
            "heads": self.heads,
            "kvHeads": self.kv_heads,
            "headDim": self.head_dim,
            "rotaryDims": self.rotary_dims,
        }


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any  # transformers PreTrainedModel
    tokenizer: Any
    device: torch.device


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but PyTorch sees no CUDA GPU; use 'auto' or 'cpu'.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("device 'mps' was asked for but this PyTorch has no Apple MPS support; use 'auto'.")
    if name not in ("cpu", "cuda", "mps"):
        raise ModelLoadError(f"Unknown device {quoted(name)}: use auto, cpu, cuda or mps.")
    return torch.device(name)


def model_info(model_id: str, model: Any) -> ModelInfo:
    """The shapes of ``model`` from its config, under its family's config names (``families.py``)."""
    config = model.config
    names = family_of(model).config
    heads = int(names.read(config, names.heads) or 0)
    kv_heads = names.read(config, names.kv_heads)
    if kv_heads is None:
        kv_heads = 1 if names.multi_query and getattr(config, names.multi_query, False) else heads
    hidden = int(names.read(config, names.hidden) or 0)
    head_dim = int(names.read(config, names.head_dim) or hidden // heads)
    layers = int(names.read(config, names.layers) or 0)
    rotary_dims, theta = rotary_of(config, head_dim)
    return ModelInfo(
        id=model_id,
        layers=layers,
        heads=heads,
        kv_heads=int(kv_heads),
        head_dim=head_dim,
        rotary_dims=rotary_dims,
        rope_theta=theta,
    )


def rotary_of(config: Any, head_dim: int) -> tuple[int, float | None]:
    """(dimensions rotated, frequency base) of a transformers config; (0, None) without RoPE.

    transformers keeps RoPE settings in ``rope_parameters``: one dict, or one per layer type
    (Gemma 3: sliding and full attention with different bases, so no single base is given).
    """
    parameters = getattr(config, "rope_parameters", None)
    if not isinstance(parameters, dict) or not parameters:
        theta = getattr(config, "rope_theta", None)
        if theta is None:
            return 0, None
        parameters = {"rope_theta": theta}
    if all(isinstance(value, dict) for value in parameters.values()):
        kinds = list(parameters.values())
        bases = {kind.get("rope_theta") for kind in kinds}
        factor = float(kinds[0].get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0)) or 1.0)
        theta = bases.pop() if len(bases) == 1 else None
    else:
        factor = float(parameters.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0)) or 1.0)
        theta = parameters.get("rope_theta")
    dims = int(head_dim * factor) // 2 * 2
    return dims, float(theta) if theta is not None else None


def prepare(model_id: str, model: Any, tokenizer: Any, device: torch.device) -> LoadedModel:
    """Put a loaded model in inference mode on ``device`` with the capturing attention installed.

    A model accelerate has dispatched (``hf_device_map``: its layers spread over several GPUs)
    stays where it is; its inputs go to the device of its embeddings.
    """
    model.eval()
    if getattr(model, "hf_device_map", None):
        device = model.get_input_embeddings().weight.device
    else:
        model.to(device)
    install_capture_attention(model)
    return LoadedModel(info=model_info(model_id, model), model=model, tokenizer=tokenizer, device=device)


def placement(device: torch.device) -> dict[str, Any]:
    """``from_pretrained`` arguments that place a model: with more than one CUDA GPU visible, its
    layers are spread over all of them (accelerate's ``device_map="auto"``), so a model larger
    than one GPU loads; otherwise none, and ``prepare`` moves it to ``device``."""
    if device.type == "cuda" and torch.cuda.device_count() > 1:
        return {"device_map": "auto"}
    return {}


def _dtype_for(device: torch.device) -> torch.dtype:
    # CPU kernels are fastest and exact in float32; accelerators hold 7B models in bfloat16.
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type in ("cuda", "mps"):
        return torch.float16
    return torch.float32


def _load_embedded(entry: embedded.EmbeddedModel, device: torch.device, progress: ReportProgress) -> tuple[Any, Any]:
    entry.packages()  # a clear sentence when the package is missing, before any work
    progress(None, f"Locating the embedded model {entry.label}")
    gguf = entry.gguf()
    cached = embedded.converted_dir(gguf)
    if embedded.is_complete(cached):
        progress(None, f"Loading {entry.label} (converted on an earlier start; a few seconds)")
        try:
            return _load_converted(cached, device)
        except (OSError, ValueError) as error:  # a damaged cache entry is rebuilt, not fatal
            log.warning("Converted-weights cache at %s is unusable (%s); converting again", cached, error)
    progress(
        None,
        f"Converting {entry.label} for first use: de-quantising its GGUF weights, once per machine, "
        f"usually {entry.conversion} on a laptop CPU; later starts load the converted copy in seconds",
    )
    # In a child process that a newer model setting ends at once (embedded.convert_in_child).
    with embedded.converted(gguf, cached) as directory:
        return _load_converted(directory, device)


def _load_converted(directory: Path, device: torch.device) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    check()  # a newer model setting stops the load here
    model = AutoModelForCausalLM.from_pretrained(
        directory, local_files_only=True, dtype=_dtype_for(device), attn_implementation="sdpa"
    )
    return model, tokenizer


def load_model(
    model_id: str,
    device: str = "auto",
    trust_remote_code: bool = False,
    progress: ReportProgress | None = None,
) -> LoadedModel:
    """Load ``model_id``: ``embedded:smollm2-135m``, a local directory or ``.gguf`` file, or a Hub id.

    Only a Hub id may reach the network, and only because the user named that model.
    """
    report = progress or (lambda _, message: log.info("%s", message))
    target = resolve_device(device)
    model_id = model_id.strip()
    if not model_id:
        raise ModelLoadError("No model is set: use 'embedded:smollm2-135m', a Hugging Face model id or a local path.")
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:  # pragma: no cover - a broken environment
        raise ModelLoadError(f"transformers is not installed in this Python environment ({error}).") from error

    offline = False  # a Hub id while the Hub cannot be reached: only the local cache may serve it
    try:
        if model_id.startswith("embedded:"):
            model, tokenizer = _load_embedded(embedded.find(model_id), target, report)
        else:
            path = Path(os.path.expanduser(model_id))
            kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
            if path.suffix == ".gguf" and path.is_file():
                source: str | Path = path.parent
                kwargs["gguf_file"] = path.name
            elif path.exists():
                source = path
                kwargs["local_files_only"] = True
            elif model_id.startswith((".", "/", "~")) or os.sep in model_id.strip("/").replace("/", "", 1):
                raise ModelLoadError(f"Model path {quoted(model_id)} does not exist.")
            else:
                source = model_id
                offline = hub.prepare_download(model_id, report)
                kwargs["local_files_only"] = offline
            report(None, f"Loading model {shorten(model_id)}")
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            check()  # a newer model setting stops the load here
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=_dtype_for(target), attn_implementation="sdpa", **kwargs, **placement(target)
            )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError) as error:
        if offline and isinstance(error, OSError):
            raise ModelLoadError(hub.not_available_offline(model_id)) from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        # The library's sentence often names the model again (a path too long for the file system).
        raise ModelLoadError(f"Could not load model {quoted(model_id)}: {detail(first_line, model_id)}") from error
    except RuntimeError as error:
        if "out of memory" in str(error).lower():
            raise ModelLoadError(
                f"Out of memory while loading {quoted(model_id)}: choose a smaller model or device."
            ) from error
        raise
    loaded = prepare(model_id, model, tokenizer, target)
    shape = f"{loaded.info.layers} layers x {loaded.info.heads} heads"
    report(1.0, f"Model {shorten(model_id)} ready: {shape} on {target.type}")
    return loaded
