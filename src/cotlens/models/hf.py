"""The transformers backend: local Hugging Face model directories and GGUF files, batched, white-box.

GGUF files are dequantised by transformers (``gguf_file=``), which takes about 25 s for SmolLM2 because the
tokenizer and weights are rebuilt from GGUF metadata. The result is converted once into a plain safetensors
directory under the cotlens cache (``$COTLENS_CACHE_DIR`` or ``~/.cache/cotlens``), keyed by the GGUF file's
SHA-256, and loaded from there afterwards (about 0.5 s, logits identical).

Batches are left-padded and carry explicit position ids, so a prompt scores the same in a batch as alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotlens.batching import draw, left_pad, pack_tree, packs_of, seeded_generator
from cotlens.models.base import RENDERS, LocalModel, names
from cotlens.models.hooks import residual_hook
from cotlens.models.kvstore import Hit, PrefixStore
from cotlens.paths import cache_root
from cotlens.types import CotlensError, GenerationSettings, ModelIdentity, Prompt

DTYPES = ("auto", "bfloat16", "float32", "float16")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
"""CPU feature flags (``/proc/cpuinfo``: x86's AVX512-BF16 and AMX-BF16, Arm's BF16) that give bf16 kernels."""


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes in bf16 natively (Linux: its feature flags; elsewhere: no)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = {f for line in cpuinfo.splitlines() if line.lower().startswith(("flags", "features"))
             for f in line.split(":", 1)[-1].split()}
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def resolve_dtype(dtype: str, device: str, config_dtype: str | None = None) -> str:
    """``auto``: float32 on every CPU, so that one command gives the same numbers on any CPU (bf16 moved the demo's
    early-answering AOC from 0.224 to 0.393: docs/pitfalls.md); on a GPU the model config's dtype
    (``config_dtype``: bfloat16 where the GPU supports it, float16 otherwise), or bfloat16 (float16 without bf16)
    for a config that names none or float32. bf16 on a CPU is a stated choice (``--dtype bfloat16``: about 2x
    faster with native bf16, ``cpu_has_native_bf16``). Any other value as given."""
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        bf16 = torch.cuda.is_bf16_supported()
        if config_dtype == "float16" or (config_dtype == "bfloat16" and not bf16):
            return "float16"
        return "bfloat16" if bf16 else "float16"
    return "float32"
_GROWING: Any = None


def growing_layer() -> Any:
    """A transformers cache layer (``DynamicLayer``) whose keys and values are views of buffers with room to grow:
    a decoding step writes its token's keys and values into the buffer, where ``DynamicLayer`` concatenates the
    whole cache again (measured on SmolLM2 at 16 rows and 300 tokens: 18% of a step). The attention reads the same
    values either way. Called as ``growing_layer()(keys, values, room)``."""
    global _GROWING
    if _GROWING is not None:
        return _GROWING
    import torch
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):  # type: ignore[no-untyped-call]  # third-party class without annotations
        def __init__(self, keys: Any, values: Any, room: int) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # third-party class without annotations
            b, h, n, d = keys.shape
            self._k = keys.new_empty(b, h, n + max(room, 1), d)
            self._v = values.new_empty(b, h, n + max(room, 1), values.shape[-1])
            self._k[:, :, :n] = keys
            self._v[:, :, :n] = values
            self._n = n
            self.device = keys.device
            self.is_initialized = True
            self._view()

        def _view(self) -> None:
            self.keys = self._k[:, :, : self._n]
            self.values = self._v[:, :, : self._n]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            n = key_states.shape[-2]
            if self._n + n > self._k.shape[-2]:  # out of room: twice the room
                self._k = torch.cat([self._k, torch.empty_like(self._k)], -2)
                self._v = torch.cat([self._v, torch.empty_like(self._v)], -2)
            self._k[:, :, self._n : self._n + n] = key_states
            self._v[:, :, self._n : self._n + n] = value_states
            self._n += n
            self._view()
            return self.keys, self.values

        def batch_select_indices(self, indices: Any) -> None:
            self._k, self._v = self._k[indices], self._v[indices]
            self._view()

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self._view()

        def crop(self, tokens_to_remove: int) -> None:
            raise NotImplementedError("a growing cache layer is not cropped")

    _GROWING = GrowingLayer
    return GrowingLayer


def _input_device(model: Any) -> str:
    """Where a placed model's inputs go: the device its embeddings run on (the CPU where they are offloaded to
    disk, as accelerate runs offloaded layers on the CPU unless told otherwise)."""
    dmap = getattr(model, "hf_device_map", None) or {}
    emb = [d for name, d in dmap.items() if "embed" in name] or list(dmap.values())[:1]
    where = emb[0] if emb else "cpu"
    if isinstance(where, int):
        return f"cuda:{where}"
    return "cpu" if where in ("disk", "meta") else str(where)


def _config_dtype(model_dir: Path) -> str | None:
    """The dtype a model directory's config.json names (``torch_dtype``, or ``dtype`` in newer transformers)."""
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    found = cfg.get("dtype") or cfg.get("torch_dtype") if isinstance(cfg, dict) else None
    return found if isinstance(found, str) else None


@dataclass(frozen=True)
class Placement:
    """Where a transformers model's weights go when one device cannot hold it: accelerate's ``device_map``
    ("auto", "balanced", "balanced_low_0", "sequential", or module name -> device: "cpu", a GPU index, "disk")
    and ``max_memory`` (device -> size, "20GiB"). Layers on "disk" are offloaded to ``offload_folder`` and
    loaded as each runs. Every white-box method works on a placed model: inputs go to the embeddings' device,
    hooks (``score_ablated``) run on the layer's own device, and results come back to the CPU."""

    device_map: str | dict[str, Any] = "auto"
    max_memory: dict[Any, str] | None = None
    offload_folder: str | None = None


def parse_placement(device_map: str, max_memory: str = "") -> Placement | None:
    """``--device-map`` (a strategy, a JSON object, or a .json file holding one) and ``--max-memory``
    ("0=20GiB,1=20GiB,cpu=64GiB") as a Placement; None where neither is given."""
    if not device_map and not max_memory:
        return None
    dmap: str | dict[str, Any] = device_map or "auto"
    text = device_map.strip()
    if text.endswith(".json") or text.startswith("{"):
        try:
            loaded = json.loads(Path(text).read_text() if text.endswith(".json") else text)
        except (OSError, ValueError) as e:
            raise CotlensError(f"--device-map: {text}: not a JSON object of module -> device ({_first_line(e)})"
                               ) from None
        if not isinstance(loaded, dict):
            raise CotlensError(f"--device-map: {text}: not a JSON object of module -> device")
        dmap = loaded
    elif text not in ("", "auto", "balanced", "balanced_low_0", "sequential"):
        raise CotlensError(f"--device-map: {text!r}: give auto, balanced, balanced_low_0, sequential, a JSON object "
                           "or a .json file")
    memory: dict[Any, str] | None = None
    if max_memory:
        memory = {}
        for part in max_memory.split(","):
            key, sep, size = part.partition("=")
            if not sep or not key.strip() or not size.strip():
                raise CotlensError(f"--max-memory: {part!r}: give DEVICE=SIZE pairs, as 0=20GiB,cpu=64GiB")
            k = key.strip()
            memory[int(k) if k.isdigit() else k] = size.strip()
    return Placement(dmap, memory)


CONVERTED_FORMAT = 1
MIN_SHARE = 32
"""Tokens a row must share with its neighbour to join its prefix tree: a chat template's few shared tokens are not
worth attention across rows (SmolLM2's template: 26)."""
PACK_TOKENS = 1024
"""Packed tokens in one prefix-tree forward pass (``score_rows``, ``prefill``): its attention is [heads, T, T]
whoever shares, so a longer pack costs memory and, measured on SmolLM2, speed (524 tokens/s at 1,200 tokens, 311
at 4,800)."""
SCORE_TOKENS = 4096
"""Padded tokens in one scoring pass (``score_choices``), fewer rows than a decoding batch: measured on SmolLM2 on a
2-core CPU, a forward pass reads 527 tokens/s at 16 x 300 tokens, 475 at 32 x 300 and 357 at 64 x 300."""
PREFIX_STORE_BYTES = 2 << 30
"""Keys and values kept for later reads (``PrefixStore``), least recently used out first: 2 GiB hold 46,000 of
SmolLM2's tokens in float32 (46 KB a token)."""
MAX_BATCH_TOKENS = 32768
"""A batch's padded tokens at most (rows x the longest prompt): 64 rows of the demo's 350-token prompts fit; a
batch of 2,000-token prompts holds 16."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def dir_revision(path: Path) -> str:
    """A content revision for a model directory: config and tokenizer files fully, weights by name, size
    and their first and last MiB (hashing gigabytes at every load would cost more than the load)."""
    h = hashlib.sha256()
    for p in sorted(path.iterdir()):
        if not p.is_file():
            continue
        h.update(p.name.encode())
        if p.suffix in (".json", ".jinja", ".txt", ".model"):
            h.update(p.read_bytes())
        else:
            size = p.stat().st_size
            h.update(str(size).encode())
            with p.open("rb") as f:
                h.update(f.read(1 << 20))
                f.seek(max(0, size - (1 << 20)))
                h.update(f.read(1 << 20))
    return h.hexdigest()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # third-party stub: transformers' logging
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # third-party stub: transformers' logging


def convert_gguf(gguf_path: Path, sha: str) -> Path:
    """Dequantise a GGUF file into a safetensors directory in the cache, once; return the directory."""
    out = cache_root() / "converted" / sha[:24]
    marker = out / "cotlens-converted.json"
    if marker.exists():
        return out
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:  # one process converts; the others wait for it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return out
        return _convert(gguf_path, sha, out)


def _convert(gguf_path: Path, sha: str, out: Path) -> Path:
    """The conversion itself, into a temporary directory renamed to ``out`` when complete."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    kw: dict[str, Any] = {"gguf_file": gguf_path.name}
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kw)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **kw)
    tok.save_pretrained(str(tmp))
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=1))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "cotlens-converted.json").write_text(
        json.dumps({"format": CONVERTED_FORMAT, "source": str(gguf_path), "sha256": sha})
    )
    try:
        tmp.rename(out)
    except OSError:  # another process converted it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


class HFModel(LocalModel):
    """A causal LM loaded with transformers, run locally on CPU (or GPU when available)."""

    def __init__(
        self,
        path: str,
        *,
        spec: str,
        gguf_file: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
        device: str | None = None,
        placement: Placement | None = None,
        prefix_store_bytes: int = PREFIX_STORE_BYTES,
    ) -> None:
        if dtype not in DTYPES:
            raise CotlensError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _quiet_transformers()
        self._torch = torch
        src = Path(path)
        if gguf_file is not None:
            gguf = src / gguf_file
            if not gguf.is_file():
                raise CotlensError(f"GGUF file not found: {gguf}")
            with gguf.open("rb") as f:
                if f.read(4) != b"GGUF":
                    raise CotlensError(f"{gguf}: not a GGUF file (it does not start with the GGUF magic bytes)")
            revision = "sha256:" + file_sha256(gguf)
            try:
                load_dir = convert_gguf(gguf, revision.split(":", 1)[1])
            except (OSError, ValueError, KeyError) as e:  # a GGUF transformers cannot read: say so in one line
                raise CotlensError(f"{gguf}: transformers cannot load this GGUF file ({_first_line(e)})") from None
        elif src.is_dir():
            if not (src / "config.json").is_file():
                raise CotlensError(f"{src}: not a transformers model directory (no config.json)")
            revision = "dir:" + dir_revision(src)
            load_dir = src
        else:
            raise CotlensError(f"model path not found: {src} (hub downloads are not done; give a local path)")
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = resolve_dtype(dtype, self.device, _config_dtype(load_dir))
        placed: dict[str, Any] = {}
        if placement is not None:
            placed = {"device_map": placement.device_map, "max_memory": placement.max_memory,
                      "offload_folder": placement.offload_folder or str(cache_root() / "offload" / revision[-16:])}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(load_dir), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(load_dir), dtype=getattr(torch, dtype),
                                                         local_files_only=True, **placed)
        except (OSError, ValueError, KeyError) as e:  # a broken config, missing weights, an unknown architecture
            raise CotlensError(f"{load_dir}: transformers cannot load this model ({_first_line(e)})") from None
        self._store = PrefixStore(prefix_store_bytes)
        """Keys and values of what the model read, for later reads that begin with it (``_read``)."""
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if placement is None:
            self.model = model.to(self.device)  # type: ignore[arg-type]  # third-party stub: PreTrainedModel.to(str)
        else:  # accelerate placed the layers and moves activations between them; inputs go to the embeddings'
            self.model = model
            self.device = _input_device(model)
        self.placement = getattr(model, "hf_device_map", None)
        """Module name -> device, where a placement spread the model (accelerate's ``hf_device_map``)."""
        self.model.eval()
        self._identity = ModelIdentity(spec, revision, dtype)
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else ([eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids = sorted(set(eos_ids) | {self.tokenizer.eos_token_id})
        self._eos_ids: list[int] = eos_ids
        self._letter_ids: dict[str, int] = {}
        self._cache_arg: str | None = None

    @property
    def model(self) -> Any:
        """The transformers model. Setting another (a merged LoRA) empties the prefix store, whose keys and values
        were the old weights'; weights changed in place by an optimizer are caught by their version counters."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model
        self._store.clear()

    # -- protocol (identity and capabilities: LocalModel) ----------------------------------------------------
    def hidden_states(self, prompts: Sequence[Prompt]) -> list[Any]:
        """Per prompt, the residual stream [layers + 1, tokens, width] as a float32 numpy array (one prompt per
        forward pass: no padding)."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for ids in self._encode([self.render(p) for p in prompts]):
                res = self.model(input_ids=torch.tensor([ids], device=self.device), output_hidden_states=True)
                out.append(torch.stack(res.hidden_states)[:, 0].float().cpu().numpy())
        return out

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render(self, prompt: Prompt) -> str:
        """The prompt as the model sees it: chat template with a generation prompt, then the prefill. A prompt with
        no messages is raw text (its prefill): what ``cotlens serve``'s ``/v1/completions`` continues."""
        if not prompt.messages:
            return prompt.prefill
        msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
        if self.tokenizer.chat_template:
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:  # Lanham et al.'s own Human/Assistant format for models without a template
            names = {"user": "Human", "assistant": "Assistant", "system": "System"}
            text = "".join(f"\n\n{names.get(m['role'], m['role'])}: {m['content']}" for m in msgs)
            text += "\n\nAssistant: "
        return str(text) + prompt.prefill

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities | names(RENDERS)

    @property
    def eos_token_id(self) -> int | None:
        eos = self.tokenizer.eos_token_id
        return int(eos) if eos is not None else None

    @property
    def context_length(self) -> int | None:
        n = getattr(self.model.config, "max_position_embeddings", None)  # a transformers config: not every has it
        return int(n) if isinstance(n, int) else None

    def prompt_tokens(self, prompt: Prompt) -> int:
        return len(self._encode([self.render(prompt)], check=False)[0])

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """The token ids the model reads for ``prompt`` (rendered, then tokenised as every call does)."""
        return self._encode([self.render(prompt)])[0]

    def _encode(self, texts: Sequence[str], check: bool = True) -> list[list[int]]:
        special = not bool(self.tokenizer.chat_template)
        out = [self.tokenizer.encode(t, add_special_tokens=special) for t in texts]
        for ids in out if check else ():
            self._check_context(len(ids))
        return out

    def _batch(self, ids: Sequence[Sequence[int]]) -> tuple[Any, Any, Any]:
        """Left-pad ``ids`` into tensors on the model's device: input ids, attention mask, position ids."""
        input_ids, mask, pos = left_pad(ids, self.tokenizer.pad_token_id)
        return input_ids.to(self.device), mask.to(self.device), pos.to(self.device)

    def _chunks(self, rows: Sequence[Sequence[int]], by_length: bool = False, tokens: int = 0
                ) -> Iterator[list[int]]:
        """Row indices in batches: in lexicographic order (decoding: rows that share a prefix stay together, so
        ``prefill`` reads it once) or by length (padded scoring: less padding), ``batch_size`` rows at most, and
        fewer where the padded batch would pass ``tokens`` (default ``MAX_BATCH_TOKENS``: long prompts)."""
        tokens = tokens or MAX_BATCH_TOKENS
        chunk: list[int] = []
        width = 0
        key = (lambda i: len(rows[i])) if by_length else (lambda i: list(rows[i]))
        for i in sorted(range(len(rows)), key=key):
            w = max(width, len(rows[i]))
            if chunk and (len(chunk) >= self.batch_size or (len(chunk) + 1) * w > tokens):
                yield chunk
                chunk, w = [], len(rows[i])
            chunk.append(i)
            width = w
        if chunk:
            yield chunk

    def letter_id(self, letter: str) -> int:
        """The token id of ``letter`` as it follows "(" in the answer prefill."""
        if letter not in self._letter_ids:
            base = self.tokenizer.encode("(", add_special_tokens=False)
            full = self.tokenizer.encode("(" + letter, add_special_tokens=False)
            if full[: len(base)] == base and len(full) == len(base) + 1:
                self._letter_ids[letter] = full[-1]
            else:
                alone = self.tokenizer.encode(letter, add_special_tokens=False)
                if len(alone) != 1:
                    raise CotlensError(f"choice label {letter!r} is not one token for this tokenizer")
                self._letter_ids[letter] = alone[0]
        return self._letter_ids[letter]

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """Each prompt's last position, read by ``score_rows`` (``_read``): what the prefix store holds of a
        prompt's beginning is not computed again, prompts that share a prefix (the filler lengths of one question,
        the truncations of one CoT, the no-CoT prompt beside them in a merged call) are read as prefix trees, the
        rest in left-padded batches of similar length; a prompt that recurs in the call (merged calls of several
        records: a filler of length 0 is the no-CoT prompt) is read once. Measured on the demo's filler and no-CoT
        prompts (80 of one merged call, no store): 26.7 s padded, 13.9 s as trees."""
        if not prompts:
            return []
        ids = self._encode([self.render(p) for p in prompts])
        first: dict[tuple[int, ...], int] = {}
        for x in ids:
            first.setdefault(tuple(x), len(first))
        logp = self.score_rows([list(x) for x in first])
        return [[float(logp[first[tuple(x)], self.letter_id(le)]) for le in ls]
                for x, ls in zip(ids, letters, strict=True)]

    def score_rows(self, rows: Sequence[Sequence[int]]) -> Any:
        """The next-token log-probabilities after each of ``rows`` [B, V] (``_read``)."""
        torch = self._torch
        with torch.inference_mode():
            logits, _ = self._read(rows)
            return torch.log_softmax(torch.stack(logits).float(), dim=-1)

    def clear_prefix_store(self) -> None:
        """Forget the keys and values kept for later reads: the next reads compute every token, as a fresh model
        does (two models compared bit for bit must have read the same things)."""
        self._store.clear()

    def _weights_version(self) -> tuple[int, int, int]:
        """Which weights the model has: a merge, a training step or a new model changes it (``PrefixStore``)."""
        params = list(self.model.parameters())
        return id(self.model), len(params), sum(0 if q.is_inference() else int(q._version) for q in params)

    def _read(self, rows: Sequence[Sequence[int]]) -> tuple[list[Any], list[Hit]]:
        """Read ``rows`` (token ids): each row's next-token logits [V] and where its keys and values are (a ``Hit``
        covering all its tokens). What the store (``PrefixStore``) holds of a row's beginning is not computed
        again; rows that share a prefix are packed as prefix trees (``pack_tree``: what they share is read once),
        ``PACK_TOKENS`` packed tokens a forward pass; rows that share nothing worth a tree (``MIN_SHARE``) with
        another row or with the store are read in left-padded batches of similar length (``SCORE_TOKENS`` padded
        tokens), whose attention does not span other rows. Each forward pass's keys and values go to the store.
        Equal to one prompt a pass up to floating-point reduction order."""
        store = self._store
        store.check(self._weights_version())
        hits = [store.find(r, MIN_SHARE) for r in rows]
        logits: list[Any] = [None] * len(rows)
        kv: list[Any] = [None] * len(rows)
        packs = self._packs(rows)
        alone = [p[0] for p in packs if len(p) == 1 and hits[p[0]] is None]
        for chunk in self._chunks([rows[i] for i in alone], by_length=True, tokens=SCORE_TOKENS):
            idx = [alone[c] for c in chunk]
            input_ids, mask, pos = self._batch([rows[i] for i in idx])
            cache, last = self._step(input_ids, None, pos, mask)
            layers = [(layer.keys, layer.values) for layer in cache.layers]
            width = int(input_ids.shape[1])
            for b, i in enumerate(idx):
                logits[i], kv[i] = last[b], Hit(layers, b, list(range(width - len(rows[i]), width)))
            store.add(layers, [(rows[i], b, kv[i].slots) for b, i in enumerate(idx)])
        for pack in packs:
            if len(pack) > 1 or hits[pack[0]] is not None:
                for i, (lg, hit) in zip(pack, self._read_pack([rows[i] for i in pack], [hits[i] for i in pack]),
                                        strict=True):
                    logits[i], kv[i] = lg, hit
        return logits, kv

    def _read_pack(self, rows: Sequence[Sequence[int]], hits: Sequence[Hit | None]) -> list[tuple[Any, Hit]]:
        """One prefix tree's forward pass (``pack_tree``), computing only the positions the store does not hold
        (``hits``: a row's stored beginning); each row's logits and where its keys and values are."""
        torch = self._torch
        packed = pack_tree(rows)
        src: dict[int, tuple[Hit, int]] = {}  # a packed position the store holds -> (a hit, its slot there)
        for ix, hit in zip(packed.index, hits, strict=True):
            if hit is not None:
                for t, p in enumerate(ix[: hit.n]):
                    src.setdefault(p, (hit, t))
        ends = [ix[-1] for ix in packed.index]
        for p in ends:  # a row's last token is read: its logits
            src.pop(p, None)
        stored = sorted(src)
        computed = [p for p in range(len(packed.ids)) if p not in src]
        slot = {p: s for s, p in enumerate(stored + computed)}
        dtype = self.model.dtype
        cols = torch.tensor(stored + computed)
        allow = packed.allow[torch.tensor(computed)][:, cols]
        kw: dict[str, Any] = {
            "input_ids": torch.tensor([[packed.ids[p] for p in computed]], device=self.device),
            "position_ids": torch.tensor([[packed.positions[p] for p in computed]], device=self.device),
            "attention_mask": torch.zeros(1, 1, *allow.shape, dtype=dtype).masked_fill_(
                ~allow, torch.finfo(dtype).min).to(self.device)}
        if stored:
            kw[self._cache_name()] = self._cache_of(self._gather([[src[p] for p in stored]]), room=len(computed))
        keep = torch.tensor([slot[p] - len(stored) for p in ends], device=self.device)
        got = self.model(use_cache=True, logits_to_keep=keep, **kw)
        cache = getattr(got, "cache", None) or got.past_key_values
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        out = [(got.logits[0, j], Hit(layers, 0, [slot[p] for p in ix])) for j, ix in enumerate(packed.index)]
        self._store.add(layers, [(r, 0, h.slots) for r, (_, h) in zip(rows, out, strict=True)])
        return out

    def _gather(self, items: Sequence[Sequence[tuple[Hit, int]]]) -> list[tuple[Any, Any]]:
        """Keys and values [len(items), heads, width, head dim] per layer, from the store's (or a read's) tensors:
        ``items[j][s]`` is (a hit, the index of one of its slots) for row j's slot s; the rows have one width."""
        torch = self._torch
        groups: dict[int, tuple[Hit, list[tuple[int, int, int, int]]]] = {}  # tensors -> (row, slot, its row, slot)
        for j, row in enumerate(items):
            for s, (h, t) in enumerate(row):
                groups.setdefault(id(h.layers), (h, []))[1].append((j, s, h.row, h.slots[t]))
        out = []
        for n, (k0, v0) in enumerate(items[0][0][0].layers):
            k = k0.new_empty(len(items), k0.shape[1], len(items[0]), k0.shape[3])
            v = v0.new_empty(len(items), v0.shape[1], len(items[0]), v0.shape[3])
            for h, at in groups.values():
                hk, hv = h.layers[n]
                j, s, r, t = (torch.tensor(x, device=k.device) for x in zip(*at, strict=True))
                k[j, :, s] = hk[r, :, t]
                v[j, :, s] = hv[r, :, t]
            out.append((k, v))
        return out

    def _cache_of(self, layers: Sequence[tuple[Any, Any]], room: int) -> Any:
        """A transformers cache holding ``layers``' keys and values, with ``room`` positions to grow into."""
        from transformers import DynamicCache

        grow = growing_layer()
        cache = DynamicCache()
        cache.layers = [grow(k, v, room) for k, v in layers]
        return cache

    def _packs(self, rows: Sequence[Sequence[int]]) -> list[list[int]]:
        return packs_of(rows, PACK_TOKENS, MIN_SHARE)

    # -- white-box: the residual stream at CoT positions, and ablating it ------------------------------------
    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def _locate(self, prompt: Prompt, cot: str) -> tuple[list[int], list[tuple[int, int]], int]:
        """The rendered prompt's token ids, each token's character span, and where ``cot`` starts in the text
        (its last occurrence: the CoT is in the last assistant turn or the prefill)."""
        text = self.render(prompt)
        base = text.rfind(cot) if cot else -1
        if base < 0:
            raise CotlensError("the CoT is not in the prompt (white-box positions are found in the CoT's text)")
        if not self.tokenizer.is_fast:
            raise CotlensError(f"{self._identity.spec}: white-box positions need a fast tokenizer (offsets)")
        enc = self.tokenizer(text, add_special_tokens=not bool(self.tokenizer.chat_template),
                             return_offsets_mapping=True)
        return list(enc["input_ids"]), [(int(a), int(b)) for a, b in enc["offset_mapping"]], base

    @staticmethod
    def _token_ending_by(spans: Sequence[tuple[int, int]], char: int) -> int:
        """The last token that ends at or before character ``char`` (the model has read up to there)."""
        found = [i for i, (_, end) in enumerate(spans) if end <= char]
        if not found:
            raise CotlensError(f"no token ends by character {char}")
        return found[-1]

    @staticmethod
    def _tokens_in(spans: Sequence[tuple[int, int]], lo: int, hi: int) -> list[int]:
        """Tokens overlapping the characters [lo, hi) (none for an empty span)."""
        return [i for i, (a, b) in enumerate(spans) if a < hi and b > lo and b > a] if hi > lo else []

    def residuals_at(self, prompts: Sequence[Prompt], cots: Sequence[str], offsets: Sequence[Sequence[int]],
                     layers: Sequence[int]) -> list[Any]:
        """See ``HIDDEN_STATES``. ``hidden_states`` as transformers returns them: for Llama-style models the last
        layer's entry is after the final norm."""
        torch = self._torch
        for layer in layers:
            self._check_layer(layer)
        out = []
        with torch.inference_mode():
            for p, cot, offs in zip(prompts, cots, offsets, strict=True):
                ids, spans, base = self._locate(p, cot)
                idx = [self._token_ending_by(spans, base + o) for o in offs] + [len(ids) - 1]
                res = self.model(input_ids=torch.tensor([ids], device=self.device), output_hidden_states=True)
                rows = torch.tensor(idx, device=self.device)
                hs = torch.stack([res.hidden_states[layer][0, rows] for layer in layers], 1)
                out.append(hs.float().cpu().numpy())
        return out

    def _layer_module(self, layer: int) -> Any:
        """The module whose output is the residual stream at ``layer`` (0: the embeddings)."""
        if layer == 0:
            return self.model.get_input_embeddings()
        blocks = getattr(self.model.base_model, "layers", None) or getattr(self.model.base_model, "h", None)
        if blocks is None:
            raise CotlensError(f"{self._identity.spec}: cannot find the decoder layers to ablate")
        return blocks[layer - 1]

    def score_ablated(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]], cots: Sequence[str],
                      spans: Sequence[tuple[int, int]], layer: int, mode: str) -> list[list[float]]:
        """See ``ABLATE``: one clean pass per prompt records the layer's output (for the mean), then one pass per
        prompt with that output replaced at the span's tokens."""
        torch = self._torch
        self._check_ablation(layer, mode)
        module = self._layer_module(layer)
        out: list[list[float]] = []
        means: dict[tuple[int, ...], Any] = {}  # the clean pass's mean, once per distinct prompt
        with residual_hook(module) as state, torch.inference_mode():
            for p, ls, cot, (lo, hi) in zip(prompts, letters, cots, spans, strict=True):
                ids, tok_spans, base = self._locate(p, cot)
                input_ids = torch.tensor([ids], device=self.device)
                state.clear()
                if mode == "zero":
                    fill = torch.zeros(self.model.config.hidden_size, device=self.device)
                else:
                    if tuple(ids) not in means:
                        self.model(input_ids=input_ids)
                        cot_tokens = self._tokens_in(tok_spans, base, base + len(cot))
                        means[tuple(ids)] = state.pop("seen")[0, cot_tokens].float().mean(0)
                    fill = means[tuple(ids)]
                state.update(fill=fill, target=torch.tensor(self._tokens_in(tok_spans, base + lo, base + hi),
                                                            dtype=torch.long))
                logits = self.model(input_ids=input_ids, logits_to_keep=1).logits
                logp = torch.log_softmax(logits[0, -1].float(), dim=-1)
                out.append([float(logp[self.letter_id(le)]) for le in ls])
        return out

    def score_prefixes(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """``score_choices``, which reads prompts that share prefixes as prefix trees (see ``SCORE_PREFIXES``):
        the truncations of a CoT, and those of several records' CoTs in one call."""
        return self.score_choices(prompts, letters)

    def next_token_logprobs(self, prompts: Sequence[Prompt], k: int) -> list[list[tuple[str, float]]]:
        """Per prompt, the k most likely next tokens (as text) and their log-probabilities (what ``cotlens serve``
        returns as ``top_logprobs``); one prompt per forward pass."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for ids in self._encode([self.render(p) for p in prompts]):
                logits = self.model(input_ids=torch.tensor([ids], device=self.device), logits_to_keep=1).logits
                vals, idx = torch.topk(torch.log_softmax(logits[0, -1].float(), dim=-1), k)
                out.append([(str(self.tokenizer.decode([int(i)])), float(v)) for v, i in zip(vals, idx, strict=True)])
        return out

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        """Greedy: batches of similar length through transformers' ``generate``. Sampled: each prompt on its own
        through ``sample``, with a generator seeded from (seed, prompt), so that a prompt's sample does not depend
        on which other prompts share the call (needed for caching and resuming) and equals its rollout of the same
        seed."""
        torch = self._torch
        ids = self._encode([self.render(p) for p in prompts])
        if settings.temperature > 0:
            return [self.sample(x, settings, [seed])[0] for x in ids]
        out: list[str] = ["" for _ in prompts]
        with torch.inference_mode():
            for chunk in self._chunks(ids):
                for i, toks in zip(chunk, self.greedy([ids[i] for i in chunk], settings.max_new_tokens,
                                                      settings.first_line), strict=True):
                    out[i] = str(self.tokenizer.decode(toks, skip_special_tokens=True))
        return out

    def greedy(self, rows: Sequence[Sequence[int]], max_new_tokens: int, first_line: bool = False
               ) -> list[list[int]]:
        """Greedy continuations of the token ids ``rows``, decoded together, until an end-of-sequence token (not
        included) or ``max_new_tokens``. The rows are read as a prefix tree (``prefill``: a prefix they share is
        computed once) and a row that ends leaves the batch (transformers' ``generate`` reads every row whole and
        computes every row until the last ends). Equal to ``generate`` up to floating-point reduction order.
        ``first_line``: a row also ends once its text holds a line break after some text (``first_line``)."""
        if max_new_tokens <= 0 or not rows:
            return [[] for _ in rows]
        return self._decode(rows, max_new_tokens, lambda logits, live: draw(logits, 0.0, 1.0, []),
                            ends=self._line_done if first_line else None)

    def _line_done(self, toks: Sequence[int]) -> bool:
        """Whether decoded ``toks`` hold a complete line of text (a line break after some text)."""
        text = str(self.tokenizer.decode(list(toks), skip_special_tokens=True)).lstrip()
        return bool(text) and len((text + "x").splitlines()) > 1  # "x": a break at the end makes a second line

    def sample_rows(self, rows: Sequence[Sequence[int]], settings: GenerationSettings, seeds: Sequence[int], *,
                    share: bool = True, trace: list[list[tuple[int, float]]] | None = None) -> list[list[int]]:
        """A continuation of each of ``rows`` (token ids; the same ids may recur, one row per seed), drawn by
        ``cotlens.batching.draw`` with a generator seeded from (its seed, its ids): what ``sample`` draws for it.
        ``share``: the rows are read as one prefix tree (``prefill``: every cut of a CoT extends the one before it,
        and rows of one prompt share it whole), else each row reads its prompt itself in one padded batch (the
        reference the tree is measured and tested against). All rows decode together; ``trace`` as ``sample``'s."""
        if not rows:
            return []
        gens = [seeded_generator(sd, str(list(r))) for r, sd in zip(rows, seeds, strict=True)]
        marks: list[list[tuple[int, float]]] = [[] for _ in rows]

        def pick(logits: Any, live: list[int]) -> tuple[list[int], list[float]]:
            toks, mg = draw(logits, settings.temperature, settings.top_p, [gens[r] for r in live])
            for r, t, m in zip(live, toks, mg, strict=True):
                marks[r].append((t, m))
            return toks, mg

        out = self._decode(rows, settings.max_new_tokens, pick, share)
        if trace is not None:
            trace += marks
        return out

    def _decode(self, rows: Sequence[Sequence[int]], max_new_tokens: int,
                pick: Any, share: bool = True, ends: Any = None) -> list[list[int]]:
        """The decoding loop ``greedy`` and ``sample_rows`` share: ``pick(logits [B, V], live rows)`` chooses each
        live row's next token; a row ends at an end-of-sequence token (not included), or where ``ends(its new
        tokens)`` says so (included), and leaves the batch."""
        torch = self._torch
        new: list[list[int]] = [[] for _ in rows]
        with torch.inference_mode():
            if share:
                cache, logits, mask, last = self.prefill(rows, room=max_new_tokens)
            else:
                input_ids, mask, pos = self._batch(rows)
                cache, logits = self._step(input_ids, None, pos, mask)
                last = pos[:, -1:]
            live = list(range(len(rows)))
            for step in range(max_new_tokens):
                toks, _ = pick(logits, live)
                keep = []
                for j, (r, t) in enumerate(zip(live, toks, strict=True)):
                    if t in self._eos_ids:
                        continue
                    new[r].append(int(t))
                    if ends is None or not ends(new[r]):
                        keep.append(j)
                if not keep or step == max_new_tokens - 1:
                    break
                if len(keep) < len(live):
                    sel = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(sel)
                    live = [live[j] for j in keep]
                    mask, last = mask[sel], last[sel]
                    toks = [toks[j] for j in keep]
                mask = torch.cat([mask, mask.new_ones(len(live), 1)], 1)
                last = last + 1
                cache, logits = self._step(torch.tensor(toks, device=self.device)[:, None], cache, last, mask)
        return new

    def prefill(self, rows: Sequence[Sequence[int]], room: int = 0) -> tuple[Any, Any, Any, Any]:
        """Read ``rows`` for decoding together: a KV cache with one left-padded row each, the logits of each row's
        next token [B, V], the key mask [B, W] and each row's last position [B, 1].

        The rows are read by ``_read`` (what the store holds is not computed again; what rows share is computed
        once, as prefix trees) and each row's keys and values gathered into the batch's cache, whose layers have
        ``room`` positions to grow into (``growing_layer``)."""
        torch = self._torch
        logits, kv = self._read(rows)
        width = max(len(r) for r in rows)
        cache = self._cache_of(self._gather([[(h, 0)] * (width - h.n) + [(h, t) for t in range(h.n)] for h in kv]),
                               room)  # left padding repeats a row's first slot: masked
        lens = torch.tensor([len(r) for r in rows], device=self.device)
        mask = (torch.arange(width, device=self.device)[None, :] >= (width - lens)[:, None]).long()
        return cache, torch.stack(logits), mask, (lens - 1)[:, None]

    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """See ``ROLLOUTS``: every (prompt, seed) is a row; the rows decode together, ``batch_size`` at a time, in
        lexicographic order, each batch read as one prefix tree (``sample_rows``): the cuts of one CoT, each
        extending the one before, share their prefix's computation, and so do several records' prompts in one
        call (the batcher merges them). Greedy rollouts are all the same continuation: computed once."""
        if settings.temperature <= 0:
            once = self.generate(prompts, settings, 0)
            return [[text] * len(s) for text, s in zip(once, seeds, strict=True)]
        ids = self._encode([self.render(p) for p in prompts])
        pairs = [(i, r) for i, ss in enumerate(seeds) for r in range(len(ss))]
        out: list[list[str]] = [["" for _ in ss] for ss in seeds]
        order = sorted(range(len(pairs)), key=lambda j: ids[pairs[j][0]])
        for lo in range(0, len(order), self.batch_size):
            chunk = [pairs[j] for j in order[lo : lo + self.batch_size]]
            got = self.sample_rows([ids[i] for i, _ in chunk], settings, [seeds[i][r] for i, r in chunk])
            for (i, r), toks in zip(chunk, got, strict=True):
                out[i][r] = str(self.tokenizer.decode(toks, skip_special_tokens=True))
        return out

    def _cache_name(self) -> str:
        """The forward pass's cache argument: transformers 5 names it ``cache``, earlier versions
        ``past_key_values``."""
        if self._cache_arg is None:
            import inspect

            params = inspect.signature(self.model.forward).parameters
            self._cache_arg = "cache" if "cache" in params else "past_key_values"
        return self._cache_arg

    def _step(self, input_ids: Any, cache: Any, positions: Any = None, mask: Any = None) -> tuple[Any, Any]:
        """One forward pass with a KV cache (None: a new one, ``_cache_name``): the cache after it and the last
        position's logits."""
        kw: dict[str, Any] = {self._cache_name(): cache} if cache is not None else {}
        if positions is not None:
            kw["position_ids"] = positions
        if mask is not None:
            kw["attention_mask"] = mask
        res = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **kw)
        new = getattr(res, "cache", None)
        return (new if new is not None else res.past_key_values), res.logits[:, -1, :]

    def sample(self, ids: Sequence[int], settings: GenerationSettings, seeds: Sequence[int], *,
               share_prefix: bool = True, trace: list[list[tuple[int, float]]] | None = None) -> list[str]:
        """Continuations of the token ids ``ids``, one per seed, each drawn by ``cotlens.batching.draw`` with a
        generator seeded from (seed, ids), until an end-of-sequence token or ``max_new_tokens``: ``sample_rows``
        of ``ids`` once per seed, ``batch_size`` rows at a time.

        ``share_prefix``: the prompt is read once for each batch of rows (else every row reads the prompt itself:
        the reference the sharing is measured and tested against). ``trace``, when given, receives each row's
        (token, margin) per step (``draw``): where two computations of one row part, the margin says whether it
        was a near-tie."""
        out: list[str] = []
        for lo in range(0, len(seeds), self.batch_size):
            chunk = list(seeds[lo : lo + self.batch_size])
            got = self.sample_rows([ids] * len(chunk), settings, chunk, share=share_prefix, trace=trace)
            out += [str(self.tokenizer.decode(x, skip_special_tokens=True)) for x in got]
        return out
