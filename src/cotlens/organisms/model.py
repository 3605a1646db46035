"""A small decoder-only transformer (pre-norm, rotary positions, KV cache) for the model organisms.

Rotary (relative) positions, not learned absolute ones: the prototype in ``shared/ORGANISMS.md`` found that with
absolute positions and a fixed-length template, a truncated CoT was out of distribution for both organisms.

Shapes: B batch, T time, H heads, D head size, C = H * D model width, V vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cotlens.batching import left_pad, nucleus
from cotlens.types import CotlensError

KV = list[tuple[Tensor, Tensor]]
"""Per layer, keys and values of shape [B, H, T_past, D]."""


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    n_layer: int = 3
    n_head: int = 4
    d_model: int = 128
    max_len: int = 256
    """Longest sequence (rotary tables are built for it)."""
    rope_base: float = 10000.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _rope_tables(cfg: GPTConfig) -> tuple[Tensor, Tensor]:
    d = cfg.d_model // cfg.n_head
    inv = 1.0 / (cfg.rope_base ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    t = torch.arange(cfg.max_len, dtype=torch.float32)
    freqs = torch.outer(t, inv)  # [max_len, D/2]
    return freqs.cos(), freqs.sin()


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [B, H, T, D]; cos, sin [B or 1, 1, T, D/2]."""
    x1, x2 = x[..., ::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None,
                past: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)
        x = x + self.proj(att.transpose(1, 2).reshape(B, T, C))
        x = x + self.mlp(self.ln2(x))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        cos, sin = _rope_tables(cfg)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(
        self,
        idx: Tensor,
        *,
        positions: Tensor | None = None,
        key_mask: Tensor | None = None,
        past: KV | None = None,
        output_hidden: bool = False,
        attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, KV, list[Tensor]]:
        """idx [B, T] -> logits [B, T, V], the new KV cache, and (if asked) the residual stream after the
        embedding and after each block, each [B, T, C].

        ``positions`` [B, T] default to past length + 0..T-1; ``key_mask`` [B, T_past + T] is 1 for real tokens
        (0 for left padding). Attention is causal over past and new tokens, unless ``attn_mask`` [B, 1, T, T] (True:
        may attend; no cache) gives it, as shared-prefix scoring does."""
        B, T = idx.shape
        t_past = past[0][0].shape[2] if past else 0
        if positions is None:
            positions = torch.arange(t_past, t_past + T, device=idx.device).expand(B, T)
        if int(positions.max()) >= self.cfg.max_len:
            raise CotlensError(f"a sequence of {int(positions.max()) + 1} tokens is longer than the organism's "
                               f"context of {self.cfg.max_len} (lower --max-new-tokens)")
        cos_table: Tensor = self.cos  # type: ignore[assignment]  # third-party stub: buffers are Tensor | Module
        sin_table: Tensor = self.sin  # type: ignore[assignment]  # third-party stub: buffers are Tensor | Module
        cos = cos_table[positions].unsqueeze(1)  # [B, 1, T, D/2]
        sin = sin_table[positions].unsqueeze(1)
        mask: Tensor | None = None  # plain causal attention (the fast kernel), as in training
        if key_mask is not None or t_past:
            causal = torch.ones(T, t_past + T, dtype=torch.bool, device=idx.device).tril(t_past)
            mask = causal.expand(B, 1, T, t_past + T)
        if mask is not None and key_mask is not None:
            mask = mask & key_mask.bool()[:, None, None, :]
            diag = torch.arange(T, device=idx.device)[:, None] + t_past == torch.arange(t_past + T, device=idx.device)
            mask = mask | diag  # a padding query attends to itself: no empty rows
        if attn_mask is not None:
            mask = attn_mask
        x = self.embed(idx)
        hidden = [x] if output_hidden else []
        new: KV = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cos, sin, mask, past[i] if past else None)
            new.append(kv)
            if output_hidden:
                hidden.append(x)
        return self.head(self.ln_f(x)), new, hidden


def save_checkpoint(model: GPT, path: Path, extra: dict[str, Any]) -> None:
    """Weights as safetensors plus a JSON config (never a pickle)."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"model": model.cfg.to_dict(), **extra}, indent=1))


def load_checkpoint(path: Path) -> tuple[GPT, dict[str, Any]]:
    from safetensors.torch import load_file

    meta = json.loads((path / "config.json").read_text())
    model = GPT(GPTConfig(**meta["model"]))
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    model.eval()
    return model, meta


@torch.no_grad()
def _next(last: Tensor, temperature: float, top_p: float,
          generator: torch.Generator | Sequence[torch.Generator] | None) -> Tensor:
    if temperature <= 0:
        return last.argmax(-1)
    probs = nucleus(torch.softmax(last / temperature, dim=-1), top_p)
    if isinstance(generator, Sequence):
        return torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generator)])
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def generate(model: GPT, seqs: list[list[int]], max_new_tokens: int, stop: set[int], pad: int,
             temperature: float = 0.0, generator: torch.Generator | Sequence[torch.Generator] | None = None,
             use_cache: bool = True, top_p: float = 1.0) -> list[list[int]]:
    """Continue each sequence until a token in ``stop`` (included in the output) or ``max_new_tokens``.
    Without the cache every step re-runs the whole sequence (the reference the cache is tested against).
    ``generator``: one for the batch, or one per sequence (a row's sample then does not depend on its batch).
    Sampled tokens come from the temperature-scaled top-p nucleus (``cotlens.batching.nucleus``)."""
    ids, mask, pos = left_pad(seqs, pad)
    out: list[list[int]] = [[] for _ in seqs]
    done = [False] * len(seqs)
    past: KV | None = None
    cur, cur_pos = ids, pos
    for _ in range(max_new_tokens):
        if use_cache:
            logits, past, _ = model(cur, positions=cur_pos, key_mask=mask, past=past)
        else:
            logits, _, _ = model(ids, positions=pos, key_mask=mask)
        nxt = _next(logits[:, -1, :], temperature, top_p, generator)
        for i, t in enumerate(nxt.tolist()):
            if not done[i]:
                out[i].append(t)
                done[i] = t in stop
        if all(done):
            break
        new_pos = pos[:, -1:] + 1
        ids = torch.cat([ids, nxt[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(nxt)[:, None]], 1)
        pos = torch.cat([pos, new_pos], 1)
        cur, cur_pos = nxt[:, None], new_pos
    return out


def rollouts(model: GPT, seq: list[int], max_new_tokens: int, stop: set[int], temperature: float, top_p: float,
             generators: Sequence[torch.Generator]) -> list[list[int]]:
    """``generate`` of one sequence once per generator, reading the sequence once: its KV cache is copied to
    every row (rows are the same length, so no padding), then the rows are decoded together."""
    logits, past, _ = model(torch.tensor([seq]))
    n = len(generators)
    past = [(k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous()) for k, v in past]
    last = logits[:, -1, :].expand(n, -1)
    out: list[list[int]] = [[] for _ in range(n)]
    done = [False] * n
    for step in range(max_new_tokens):
        nxt = _next(last, temperature, top_p, generators)
        for i, t in enumerate(nxt.tolist()):
            if not done[i]:
                out[i].append(t)
                done[i] = t in stop
        if all(done) or step == max_new_tokens - 1:
            break
        pos = torch.full((n, 1), len(seq) + step)
        logits, past, _ = model(nxt[:, None], positions=pos, past=past)
        last = logits[:, -1, :]
    return out


CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
"""The shipped organisms: one directory each (safetensors weights and a JSON config)."""


def shipped() -> list[str]:
    """Names of the organisms whose checkpoints ship with cotlens."""
    return sorted(d.name for d in CHECKPOINTS.glob("*") if (d / "config.json").is_file())


def series(path: str) -> list[tuple[int, Path]]:
    """A directory of checkpoints (``step-N`` subdirectories, as ``cotlens experiment pressure`` writes them), in
    step order; [] for anything else."""
    p = Path(path)
    if not p.is_dir() or (p / "config.json").is_file():
        return []
    found = [(int(d.name.removeprefix("step-")), d) for d in p.glob("step-*")
             if d.name.removeprefix("step-").isdigit() and (d / "config.json").is_file()]
    return sorted(found)


def resolve(name_or_path: str) -> Path:
    """A shipped organism's name, a checkpoint directory, or ``DIR@N``: step N of a series of checkpoints."""
    p = Path(name_or_path)
    if (p / "config.json").is_file():
        return p
    if name_or_path in shipped():
        return CHECKPOINTS / name_or_path
    base, at, step = name_or_path.rpartition("@")
    if at and step.isdigit():
        steps = dict(series(base))
        if int(step) in steps:
            return steps[int(step)]
        if steps:
            raise CotlensError(f"organism {name_or_path!r}: no step {step} in {base} (steps: "
                               f"{', '.join(map(str, steps))})")
    if series(name_or_path):
        raise CotlensError(f"organism {name_or_path!r} is a series of checkpoints: name one ({name_or_path}@N), "
                           f"or run the whole series with cotlens run")
    raise CotlensError(f"no organism {name_or_path!r}: not a checkpoint directory nor a shipped organism "
                       f"({', '.join(shipped()) or 'none shipped'})")
