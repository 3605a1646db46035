"""LoRA fine-tuning of a transformers model on final answers only (Hu et al. 2021, through ``peft``), for
``cotlens experiment bad-finetune-lora``.

Each example is a prompt (rendered as every cotlens call renders it, ending in the answer prefill "The single,
most likely answer is (") and the choice letter to teach: the loss is the cross-entropy of that one token. No CoT
is in the data, and no CoT token is ever in the loss. Adapters go on the attention's query and value projections
(rank 8 by default, as the LoRA paper's GPT-3 runs), dropout 0, AdamW at a constant rate; the adapted weights
are merged into the model (``merge_and_unload``) and saved as a plain transformers directory (safetensors), which
``hf:DIR`` loads like any other model. Seeded: the example order and the adapters' initialisation come from
``seed``; on the CPU with a fixed thread count, a rerun gives the same curve.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cotlens.batching import left_pad
from cotlens.models.hf import HFModel
from cotlens.types import CotlensError, Prompt


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 1e-3
    steps: int = 60
    batch_size: int = 8
    seed: int = 0


def finetune_answer_letters(hf: HFModel, prompts: Sequence[Prompt], letters: Sequence[str], cfg: LoraSettings,
                            out: Path, progress: bool = True) -> dict[str, Any]:
    """Train LoRA adapters on ``hf``'s model (in place) so that each prompt's next token is its letter; merge them
    and save the model and tokenizer to ``out``. Returns the curve (per step: loss, and the share of the batch
    whose letter already had the highest probability) and the settings."""
    try:
        import peft
    except ImportError:
        raise CotlensError("LoRA fine-tuning needs peft: pip install 'cotlens[lora]'") from None
    import torch

    if len(prompts) != len(letters) or not prompts:
        raise CotlensError("LoRA fine-tuning needs one letter per prompt, and at least one prompt")
    torch.manual_seed(cfg.seed)
    rng = random.Random(f"lora:{cfg.seed}")
    ids = [hf.encode_prompt(p) for p in prompts]
    targets = [hf.letter_id(le) for le in letters]
    model = peft.get_peft_model(hf.model, peft.LoraConfig(
        r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(cfg.targets), lora_dropout=0.0, bias="none",
        task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    order: list[int] = []
    curve: list[dict[str, float]] = []
    t0 = time.time()
    model.train()
    for _ in tqdm(range(cfg.steps), desc="LoRA", disable=not progress):
        if len(order) < cfg.batch_size:  # epochs: every example once, in a seeded order
            more = list(range(len(ids)))
            rng.shuffle(more)
            order += more
        batch, order = order[: cfg.batch_size], order[cfg.batch_size:]
        x, mask, pos = left_pad([ids[i] for i in batch], hf.tokenizer.pad_token_id)
        x, mask, pos = x.to(hf.device), mask.to(hf.device), pos.to(hf.device)
        logits = model(input_ids=x, attention_mask=mask, position_ids=pos).logits[:, -1, :].float()
        y = torch.tensor([targets[i] for i in batch], device=hf.device)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # third-party stub: torch's Tensor.backward is untyped
        opt.step()
        curve.append({"loss": float(loss.item()), "label_top": float((logits.argmax(-1) == y).float().mean())})
    seconds = time.time() - t0
    merged: Any = model.merge_and_unload()  # a PreTrainedModel again (peft types it as a Module)
    merged.eval()
    hf.model = merged
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    hf.tokenizer.save_pretrained(str(out))
    return {"lora": asdict(cfg), "curve": curve, "seconds": seconds, "examples": len(ids)}
