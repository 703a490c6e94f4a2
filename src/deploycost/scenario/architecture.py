"""A decoder LLM's shape and the counts derived from it (parameters, KV-cache bytes and
FLOPs per token), from a catalog row (``llm_architectures``) or a scenario's inline shape.

Parameters: untied embedding and output head ``2 V d``, per layer attention
``d (2 q + 2 kv)`` (q/k/v/o projections, ``q = heads x head_dim``, ``kv = kv_heads x
head_dim``), a feed-forward ``m d f`` per expert (``m = 3`` gated, 2 plain; one expert for
a dense model), a router ``d E`` and two norms; biases are left out (GPT-J: 0.05 % low).
A catalog row's published or derived counts take precedence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Architecture:
    """A decoder's shape; counts are derived from it unless given (catalog rows give them)."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    intermediate: int
    experts: int = 0  # 0: dense
    experts_per_token: int = 0
    params_total: float | None = None
    params_active: float | None = None
    ffn_matrices: int = 3  # gated (SwiGLU) feed-forward; 2 for a plain MLP (GPT-J)

    @property
    def moe(self) -> bool:
        return self.experts > 0

    @property
    def attention_width(self) -> int:
        return self.heads * self.head_dim

    def expert_params(self) -> float:
        """Parameters in the experts' feed-forward blocks (0 for a dense model)."""
        if not self.moe:
            return 0.0
        per_expert = self.ffn_matrices * self.hidden * self.intermediate
        return float(self.layers * self.experts * per_expert)

    def derived_params(self) -> tuple[float, float]:
        """(total, active per token) from the shape: untied embedding and output head,
        attention q/k/v/o, a feed-forward per expert, a router, norms (biases left out)."""
        q, kv = self.attention_width, self.kv_heads * self.head_dim
        attention = self.hidden * (2 * q + 2 * kv)
        ffn = self.ffn_matrices * self.hidden * self.intermediate
        router = self.hidden * self.experts if self.moe else 0
        per_layer = attention + router + 2 * self.hidden
        experts = self.experts if self.moe else 1
        active_experts = self.experts_per_token if self.moe else 1
        edges = 2 * self.vocab * self.hidden + self.hidden
        total = edges + self.layers * (per_layer + experts * ffn)
        active = edges + self.layers * (per_layer + active_experts * ffn)
        return float(total), float(active)

    @property
    def total(self) -> float:
        return self.params_total if self.params_total is not None else self.derived_params()[0]

    @property
    def active(self) -> float:
        if self.params_active is not None:
            return self.params_active
        if not self.moe:
            return self.total
        total, active = self.derived_params()
        return active * self.total / total  # scale to a given total

    def kv_bytes_per_token(self, bytes_per_element: float) -> float:
        return 2.0 * self.layers * self.kv_heads * self.head_dim * bytes_per_element

    def prefill_flops(self, tokens: np.ndarray) -> np.ndarray:
        n = np.asarray(tokens, float)
        return 2.0 * self.active * n + 2.0 * self.layers * self.attention_width * n * n

    def decode_flops_per_token(self, context: np.ndarray) -> np.ndarray:
        return 2.0 * self.active + 4.0 * self.layers * self.attention_width * np.asarray(context)


def architecture_of(spec, catalog) -> Architecture:
    """The ``Architecture`` of an LLM model spec: its catalog row, or its inline shape."""
    llm = spec.llm
    if llm.shape is not None:
        return Architecture(**llm.shape.model_dump())
    row = catalog.llm_architectures.loc[llm.architecture]
    active = row.params_active
    return Architecture(
        layers=int(row.layers),
        hidden=int(row.hidden),
        heads=int(row.heads),
        kv_heads=int(row.kv_heads),
        head_dim=int(row.head_dim),
        vocab=int(row.vocab),
        intermediate=int(row.intermediate),
        experts=int(row.experts),
        experts_per_token=int(row.experts_per_token),
        params_total=float(row.params_total),
        params_active=None if active != active else float(active),
        ffn_matrices=int(row.ffn_matrices),
    )
