"""The KV cache a re-capture after an edit feeds the model: the unchanged prefix's keys and values.

A causal model's keys and values of tokens [0, p) do not depend on later tokens, so a pass over
an edited window computes only tokens p.. and reads the prefix's from the cache.
"""

from __future__ import annotations

from typing import Any

import torch


def buffer_cache(keys: torch.Tensor, values: torch.Tensor, reuse: int) -> Any:
    """A transformers KV cache whose layers are views of the capture buffers ``keys`` and ``values``
    (L, KV, n, d), their first ``reuse`` rows filled.

    transformers' DynamicLayer concatenates the cached prefix with each pass's new rows, copying
    the prefix twice per layer (once when the cache is filled, once in the pass). Here the prefix is
    already in the buffers the capture keeps: a layer's ``update`` writes the new rows after it and
    returns the filled part, so the model reads the prefix in place.
    """
    from transformers.cache_utils import Cache, DynamicLayer

    class BufferLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:  # (KV, n, d)
            super().__init__()
            self.buffers, self.filled = (keys, values), reuse
            self.keys, self.values = keys[None, :, :reuse], values[None, :, :reuse]
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = self.buffers
            end = self.filled + key_states.shape[-2]
            if end > keys.shape[1] or key_states.shape[0] != 1:
                raise RuntimeError("a pass wrote more rows than the capture buffers hold")
            keys[:, self.filled : end] = key_states[0]
            values[:, self.filled : end] = value_states[0]
            self.filled = end
            self.keys, self.values = keys[None, :, :end], values[None, :, :end]
            return self.keys, self.values

    return Cache(layers=[BufferLayer(keys[i], values[i]) for i in range(keys.shape[0])])


def placed_cache(
    keys: torch.Tensor,
    values: torch.Tensor,
    reuse: int,
    places: dict[int, torch.device],
    device: torch.device,
    dtype: torch.dtype | None = None,
) -> Any:
    """A transformers DynamicCache of the first ``reuse`` rows of ``keys`` and ``values`` (L, KV, n, d),
    each layer's on the device it runs on (``places``; ``device`` for a layer not in it): a
    dispatched model's layers live on several GPUs. ``dtype``: the model's, for a prefix stored
    compactly (``storage.py``); as stored when None."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer in range(keys.shape[0]):
        place = places.get(layer, device)
        key = keys[layer, :, :reuse][None].to(device=place, dtype=dtype)
        value = values[layer, :, :reuse][None].to(device=place, dtype=dtype)
        cache.update(key, value, layer)
    return cache


def fixed_cache(keys: torch.Tensor, values: torch.Tensor, places: dict[int, torch.device], device: torch.device) -> Any:
    """A transformers cache that hands every layer the whole of ``keys`` and ``values`` (L, KV, n, d)
    and keeps nothing a pass gives it: for a pass whose query rows are rows of the window these
    keys already hold (the capturing attention masks them, ``recorder.Recorder.positions``).
    Each layer's on the device it runs on (``places``; ``device`` for a layer not in it)."""
    from transformers.cache_utils import Cache, DynamicLayer

    class FixedLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:  # (KV, n, d)
            super().__init__()
            self.fixed = (keys[None], values[None])
            self.keys, self.values = self.fixed
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return self.fixed

    layers: list[Any] = []
    for layer in range(keys.shape[0]):
        place = places.get(layer, device)
        layers.append(FixedLayer(keys[layer].to(place), values[layer].to(place)))
    return Cache(layers=layers)
