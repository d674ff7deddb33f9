"""The first-use conversion of an embedded GGUF, run in a child process by ``embedded.convert_in_child``.

A module of its own so that ``embedded`` (read by the settings, which must not import torch)
names it only as a string.
"""

from __future__ import annotations

from pathlib import Path


def convert(gguf: str | Path, out: str | Path) -> None:
    """De-quantise ``gguf`` into ``out`` as a plain float32 transformers model and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32, attn_implementation="sdpa"
    )
    # The de-quantised weights are plain tensors; drop the GGUF marker so the saved copy loads as such.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
