"""Combining experts branched from one seed model: Branch-Train-Stitch and its baselines.

Every model here is built from Llama-architecture causal LMs of the Hugging Face stack
(``LlamaForCausalLM`` or any model of that layout: ``model.embed_tokens``, ``model.layers``,
``model.rotary_emb``, ``model.norm``, ``lm_head``) that share one configuration, as experts
continually pretrained from one seed do.

* ``StitchedModel`` (BTS, arXiv 2502.00075): the frozen seed is the *hub*, the frozen experts
  are the *spokes*; all of them run their decoder layers in lockstep on the same tokens, and
  after every ``floor(L/K)``-th layer a trainable stitch layer lets them exchange hidden
  states, only through the hub. Two kinds alternate, the last always Experts-into-Hub:

  - ``ExpertsIntoHub``: ``g = softmax(dropout(W_gate h0))`` over the hub and the M experts,
    one gate per model and per hidden dimension; ``h~i = W_proj_i h_i``; the hub becomes
    ``g0 * h0 + sum_i gi * h~i`` (the experts are unchanged);
  - ``HubIntoExperts``: per expert ``gi = sigmoid(W_gate_i h0)`` (per dimension);
    ``h_i <- (1 - gi) * h_i + gi * W_proj_i h0`` (the hub is unchanged).

  The output is the hub's: its final norm and ``lm_head``. The experts stop after the last
  stitch layer (nothing reads them later); the hub runs its remaining layers alone.
  Initialisation (a choice, documented in the README): every ``W_proj`` is the identity (the
  experts' hidden spaces start aligned with the seed's, since they branched from it), gate
  weights are zero, the Experts-into-Hub gate biases give the hub a logit of ``hub_logit``
  and the Hub-into-Experts biases are ``h2e_bias`` (sigmoid(-2) = 0.12: experts start almost
  untouched). ``force_hub=True`` sets every gate to the hub (softmax one-hot on the hub,
  sigmoid 0): the output is then exactly the seed's.
  ``without_expert(i)`` drops one expert and its gate rows and projections (the softmax
  renormalises over the models left): no retraining.
* ``PlainLM``: one Hugging Face causal LM behind the same call (seed, experts, soup, BTX).
* ``Ensemble``: BTM's logit ensemble: the mean of the experts' next-token probabilities.
* ``soup``: the uniform average of the weights (a model soup of the experts).
* ``build_btx``: BTX: each layer's MLP becomes a mixture of the experts' MLPs (top-k routing
  by a learned linear router), every other weight is the experts' average.

``greedy_generate`` decodes any of them greedily with a key/value cache per model, cutting
each completion at its stop sequences. Every ``forward`` takes ``input_ids``,
``attention_mask`` (left or right padding), optional ``labels`` (next-token loss, -100
ignored) and returns an ``LMOutput`` with ``logits`` (so the loss helpers of the
experiments, which call ``model(input_ids=, attention_mask=).logits``, work on all of them).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

E2H = "experts_into_hub"
H2E = "hub_into_experts"


class StitchError(ValueError):
    """Models that cannot be combined, or a stitch layout that does not fit them."""


@dataclass
class LMOutput:
    logits: torch.Tensor
    loss: torch.Tensor | None = None
    caches: list[Any] | None = None
    # per stitch layer: (kind, gate tensor) — E2H: [B, T, M+1, D] softmax weights; H2E: [B, T, M, D]
    gates: list[tuple[str, torch.Tensor]] = field(default_factory=list)


# ----------------------------------------------------------------------------- plumbing


def _lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


def _positions(attention_mask: torch.Tensor, length: int) -> torch.Tensor:
    """Position ids of the last ``length`` tokens: the count of real tokens before each (left
    padding starts every row at 0, as Hugging Face's ``generate`` does)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]


def _causal_mask(attention_mask: torch.Tensor, query: int, dtype: torch.dtype) -> torch.Tensor:
    """A 4-D additive mask ``[B, 1, query, keys]``: key j is visible to query i when it is a real
    token and not after it (keys = cached + new tokens)."""
    keys = attention_mask.shape[1]
    past = keys - query
    q = torch.arange(query, device=attention_mask.device)[:, None] + past
    k = torch.arange(keys, device=attention_mask.device)[None, :]
    allowed = (k <= q)[None, None] & attention_mask.bool()[:, None, None, :]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=attention_mask.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def _new_cache(config):
    from transformers import DynamicCache

    try:
        return DynamicCache(config=config)
    except TypeError:  # older transformers
        return DynamicCache()


def _cache_keyword(layer: nn.Module) -> str:
    """The decoder layer's name for the key/value cache (``cache`` since transformers 5.x,
    ``past_key_value(s)`` before)."""
    params = inspect.signature(layer.forward).parameters
    for name in ("cache", "past_key_values", "past_key_value"):
        if name in params:
            return name
    return "past_key_values"


def _run_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor, position_ids, rope, cache, keyword: str) -> torch.Tensor:
    out = layer(hidden, attention_mask=mask, position_ids=position_ids, position_embeddings=rope, use_cache=cache is not None, **{keyword: cache})
    return out[0] if isinstance(out, tuple) else out


def _parts(model: nn.Module):
    inner = getattr(model, "model", None)
    needed = ("embed_tokens", "layers", "norm", "rotary_emb")
    if inner is None or not all(hasattr(inner, n) for n in needed) or not hasattr(model, "lm_head"):
        raise StitchError(f"{type(model).__name__}: not a Llama-architecture causal LM (model.embed_tokens, model.layers, model.norm, model.rotary_emb, lm_head)")
    return inner


_SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "head_dim", "rope_theta", "rope_parameters", "rope_scaling")


def check_compatible(models: Sequence[nn.Module]) -> None:
    """All models share the architecture that combining them needs (sizes, vocabulary, rotary settings)."""
    ref = models[0].config.to_dict()
    for i, m in enumerate(models[1:], 1):
        _parts(m)
        other = m.config.to_dict()
        for key in _SHAPE_KEYS:
            if ref.get(key) != other.get(key):
                raise StitchError(f"model {i}: {key} is {other.get(key)!r}, the seed's is {ref.get(key)!r}; experts must be branched from the seed")


def freeze(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# ----------------------------------------------------------------------------- stitch layers


class ExpertsIntoHub(nn.Module):
    """The hub takes a per-dimension softmax mixture of itself and the projected experts."""

    kind = E2H

    def __init__(self, dim: int, n_experts: int, dropout: float = 0.0, hub_logit: float = 0.0):
        super().__init__()
        self.dim, self.n_experts = dim, n_experts
        self.gate = nn.Linear(dim, (n_experts + 1) * dim)
        self.proj = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(n_experts))
        self.dropout = nn.Dropout(dropout)
        with torch.no_grad():
            self.gate.weight.zero_()
            self.gate.bias.zero_()
            self.gate.bias[:dim] = hub_logit
            for p in self.proj:
                p.weight.copy_(torch.eye(dim))

    def gates(self, hub: torch.Tensor) -> torch.Tensor:
        logits = self.gate(hub).view(*hub.shape[:-1], self.n_experts + 1, self.dim)
        return torch.softmax(self.dropout(logits), dim=-2)

    def forward(self, hub: torch.Tensor, experts: list[torch.Tensor], force_hub: bool = False):
        if force_hub:
            g = torch.zeros(*hub.shape[:-1], self.n_experts + 1, self.dim, dtype=hub.dtype, device=hub.device)
            g[..., 0, :] = 1
            return hub, experts, g
        g = self.gates(hub)
        new = g[..., 0, :] * hub
        for i, (h, proj) in enumerate(zip(experts, self.proj, strict=True)):
            new = new + g[..., i + 1, :] * proj(h)
        return new, experts, g

    def without(self, index: int) -> ExpertsIntoHub:
        keep = [0] + [i + 1 for i in range(self.n_experts) if i != index]
        out = ExpertsIntoHub(self.dim, self.n_experts - 1, self.dropout.p)
        rows = torch.cat([torch.arange(k * self.dim, (k + 1) * self.dim) for k in keep])
        with torch.no_grad():
            out.gate.weight.copy_(self.gate.weight[rows])
            out.gate.bias.copy_(self.gate.bias[rows])
            for j, i in enumerate(i for i in range(self.n_experts) if i != index):
                out.proj[j].weight.copy_(self.proj[i].weight)
        return out.to(self.gate.weight)


class HubIntoExperts(nn.Module):
    """Each expert takes, per dimension, a sigmoid-gated share of the projected hub."""

    kind = H2E

    def __init__(self, dim: int, n_experts: int, bias: float = -2.0):
        super().__init__()
        self.dim, self.n_experts = dim, n_experts
        self.gate = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_experts))
        self.proj = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(n_experts))
        with torch.no_grad():
            for g, p in zip(self.gate, self.proj):
                g.weight.zero_()
                g.bias.fill_(bias)
                p.weight.copy_(torch.eye(dim))

    def forward(self, hub: torch.Tensor, experts: list[torch.Tensor], force_hub: bool = False):
        if force_hub:
            return hub, experts, torch.zeros(*hub.shape[:-1], self.n_experts, self.dim, dtype=hub.dtype, device=hub.device)
        gs, out = [], []
        for h, gate, proj in zip(experts, self.gate, self.proj, strict=True):
            g = torch.sigmoid(gate(hub))
            out.append((1 - g) * h + g * proj(hub))
            gs.append(g)
        return hub, out, torch.stack(gs, dim=-2)

    def without(self, index: int) -> HubIntoExperts:
        out = HubIntoExperts(self.dim, self.n_experts - 1)
        kept = [i for i in range(self.n_experts) if i != index]
        with torch.no_grad():
            for j, i in enumerate(kept):
                out.gate[j].load_state_dict(self.gate[i].state_dict())
                out.proj[j].load_state_dict(self.proj[i].state_dict())
        return out.to(self.proj[0].weight) if kept else out


def stitch_positions(num_layers: int, k: int) -> list[tuple[int, str]]:
    """``(layer index after which the stitch sits, kind)`` for K stitch layers in a model of
    ``num_layers`` layers: after every ``floor(L/K)`` layers, kinds alternating backwards from
    the last, which is always Experts-into-Hub."""
    if k < 1:
        raise StitchError(f"stitch layers: K must be at least 1, got {k}")
    if k > num_layers:
        raise StitchError(f"stitch layers: K={k} is larger than the number of layers ({num_layers})")
    every = num_layers // k
    return [((j + 1) * every - 1, E2H if (k - 1 - j) % 2 == 0 else H2E) for j in range(k)]


@dataclass(frozen=True)
class StitchSpec:
    layers: int = 4  # K
    gate_dropout: float = 0.0
    hub_logit: float = 0.0  # Experts-into-Hub: the hub's initial gate logit (experts' 0)
    h2e_bias: float = -2.0  # Hub-into-Experts: initial gate bias (sigmoid(-2) = 0.12)


def stitch_parameter_count(dim: int, n_experts: int, positions: Sequence[tuple[int, str]]) -> int:
    """Trainable parameters of a stitch layout: E2H ``D(M+1)D + (M+1)D + M D^2``, H2E ``2 M D^2 + M D``."""
    total = 0
    for _, kind in positions:
        if kind == E2H:
            total += dim * (n_experts + 1) * dim + (n_experts + 1) * dim + n_experts * dim * dim
        else:
            total += 2 * n_experts * dim * dim + n_experts * dim
    return total


class StitchedModel(nn.Module):
    """The seed (hub) and the experts (spokes), frozen, joined by trainable stitch layers."""

    def __init__(self, hub: nn.Module, experts: Sequence[nn.Module], spec: StitchSpec = StitchSpec(), names: Sequence[str] | None = None):
        super().__init__()
        if not experts:
            raise StitchError("a stitched model needs at least one expert")
        check_compatible([hub, *experts])
        self.hub = freeze(hub)
        self.experts = nn.ModuleList(freeze(e) for e in experts)
        self.names = list(names) if names is not None else [f"expert{i}" for i in range(len(experts))]
        if len(self.names) != len(experts):
            raise StitchError(f"{len(self.names)} names for {len(experts)} experts")
        self.spec = spec
        self.num_layers = len(_parts(hub).layers)
        self.positions = stitch_positions(self.num_layers, spec.layers)
        dim = hub.config.hidden_size
        layers = []
        for _, kind in self.positions:
            if kind == E2H:
                layers.append(ExpertsIntoHub(dim, len(experts), spec.gate_dropout, spec.hub_logit))
            else:
                layers.append(HubIntoExperts(dim, len(experts), spec.h2e_bias))
        self.stitches = nn.ModuleList(layers).to(next(hub.parameters()))
        self._keyword = _cache_keyword(_parts(hub).layers[0])

    @property
    def config(self):
        return self.hub.config

    def stitch_parameters(self) -> list[nn.Parameter]:
        return list(self.stitches.parameters())

    def stitch_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.stitches.state_dict().items()}

    def train(self, mode: bool = True):
        super().train(mode)
        self.hub.eval()  # frozen models never use dropout
        self.experts.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                caches: list[Any] | None = None, use_cache: bool = False, force_hub: bool = False, **_: Any) -> LMOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        models = [self.hub, *self.experts]
        if use_cache and caches is None:
            caches = [_new_cache(m.config) for m in models]
        inner = [_parts(m) for m in models]
        length = input_ids.shape[1]
        position_ids = _positions(attention_mask, length)
        states = [p.embed_tokens(input_ids) for p in inner]
        mask = _causal_mask(attention_mask, length, states[0].dtype)
        rope = inner[0].rotary_emb(states[0], position_ids)
        stitch_at = {pos: i for i, (pos, _) in enumerate(self.positions)}
        last = self.positions[-1][0]
        gates = []
        for layer in range(self.num_layers):
            active = len(models) if layer <= last else 1
            for i in range(active):
                states[i] = _run_layer(inner[i].layers[layer], states[i], mask, position_ids, rope, caches[i] if caches else None, self._keyword)
            if layer in stitch_at:
                stitch = self.stitches[stitch_at[layer]]
                states[0], experts, g = stitch(states[0], states[1:], force_hub)
                states[1:] = experts
                gates.append((stitch.kind, g))
        logits = self.hub.lm_head(inner[0].norm(states[0]))
        loss = _lm_loss(logits, labels) if labels is not None else None
        return LMOutput(logits, loss, caches, gates)

    def without_expert(self, index: int) -> StitchedModel:
        """The same model with expert ``index`` removed (its gate rows and projections
        dropped, every other trained parameter kept): no retraining."""
        if not 0 <= index < len(self.experts) or len(self.experts) < 2:
            raise StitchError(f"cannot remove expert {index} of {len(self.experts)}")
        out = copy.copy(self)
        nn.Module.__init__(out)
        out.hub = self.hub
        out.experts = nn.ModuleList(e for i, e in enumerate(self.experts) if i != index)
        out.names = [n for i, n in enumerate(self.names) if i != index]
        out.spec, out.num_layers, out.positions, out._keyword = self.spec, self.num_layers, self.positions, self._keyword
        out.stitches = nn.ModuleList(s.without(index) for s in self.stitches)
        return out


# ----------------------------------------------------------------------------- plain models and baselines


class PlainLM(nn.Module):
    """One Hugging Face causal LM behind the combined models' call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @property
    def config(self):
        return self.model.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                caches: list[Any] | None = None, use_cache: bool = False, **_: Any) -> LMOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if use_cache and caches is None:
            caches = [_new_cache(self.model.config)]
        position_ids = _positions(attention_mask, input_ids.shape[1])
        kwargs: dict[str, Any] = {"use_cache": bool(caches)}
        if caches:
            kwargs["cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"] = caches[0]
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs).logits
        loss = _lm_loss(logits, labels) if labels is not None else None
        return LMOutput(logits, loss, caches)


class Ensemble(nn.Module):
    """BTM's logit ensemble: the mean of the models' next-token probabilities; ``logits`` are
    the log of that mean (so softmax, argmax and cross-entropy read it as one model)."""

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(PlainLM(freeze(m)) for m in models)

    @property
    def config(self):
        return self.members[0].config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                caches: list[Any] | None = None, use_cache: bool = False, **_: Any) -> LMOutput:
        if use_cache and caches is None:
            caches = [_new_cache(m.config) for m in self.members]
        logps = []
        for i, m in enumerate(self.members):
            out = m(input_ids, attention_mask, caches=[caches[i]] if caches else None)
            logps.append(torch.log_softmax(out.logits.float(), dim=-1))
        logits = torch.logsumexp(torch.stack(logps), dim=0) - torch.log(torch.tensor(float(len(logps))))
        loss = _lm_loss(logits, labels) if labels is not None else None
        return LMOutput(logits, loss, caches)


def soup(models: Sequence[nn.Module], weights: Sequence[float] | None = None) -> nn.Module:
    """The (uniform, or ``weights``) average of the models' parameters, as a copy of the first."""
    check_compatible(models)
    weights = list(weights) if weights is not None else [1.0 / len(models)] * len(models)
    out = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    with torch.no_grad():
        merged = {k: sum(w * s[k].float() for w, s in zip(weights, states)).to(v.dtype) for k, v in states[0].items()}
    out.load_state_dict(merged)
    return out


class MoEMLP(nn.Module):
    """A mixture of MLPs: a linear router picks the top-k per token, their outputs are summed
    with the router's softmax weights renormalised over the chosen k."""

    def __init__(self, experts: Sequence[nn.Module], top_k: int = 2):
        super().__init__()
        if not 1 <= top_k <= len(experts):
            raise StitchError(f"btx.top_k must be in 1..{len(experts)}, got {top_k}")
        self.experts = nn.ModuleList(experts)
        dim = experts[0].gate_proj.in_features if hasattr(experts[0], "gate_proj") else next(experts[0].parameters()).shape[1]
        self.router = nn.Linear(dim, len(experts), bias=False)
        nn.init.zeros_(self.router.weight)  # uniform routing at the start
        self.top_k = top_k
        self.last_probs: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.router(hidden).float(), dim=-1)
        self.last_probs = probs.detach()
        weight, index = probs.topk(self.top_k, dim=-1)
        weight = (weight / weight.sum(-1, keepdim=True)).to(hidden.dtype)
        out = torch.zeros_like(hidden)
        for e, expert in enumerate(self.experts):
            chosen = (index == e)
            if not chosen.any():
                continue
            w = (weight * chosen).sum(-1, keepdim=True)
            out = out + w * expert(hidden)
        return out


def build_btx(models: Sequence[nn.Module], top_k: int = 2) -> nn.Module:
    """BTX: a copy of the models' weight average whose every MLP is a ``MoEMLP`` of the
    models' own MLPs (kept as they are: frozen copies); only the routers train by default."""
    merged = freeze(soup(models))
    for layer, *originals in zip(_parts(merged).layers, *(_parts(m).layers for m in models)):
        layer.mlp = MoEMLP([freeze(copy.deepcopy(o.mlp)) for o in originals], top_k)
    return merged


def router_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for m in model.modules() if isinstance(m, MoEMLP) for p in m.router.parameters()]


# ----------------------------------------------------------------------------- decoding


def greedy_generate(model: nn.Module, tokenizer, prompts: Sequence[str], stops: Sequence[Sequence[str]], max_new_tokens: int = 128,
                    batch_size: int = 32, progress: Callable[[int, int], None] | None = None) -> list[str]:
    """The greedy completion of each prompt (left-padded batches, a key/value cache per model),
    cut at the first of its stop sequences; a row stops at EOS or once a stop sequence appears."""
    from xpl.models.generation import truncate

    if not isinstance(model, (StitchedModel, PlainLM, Ensemble)):
        model = PlainLM(model)
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        chunk_stops = list(stops[start : start + batch_size])
        rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in chunk]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r)
            mask[i, width - len(r) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        window = max([16] + [len(x) + 4 for st in chunk_stops for x in st])
        new = [[] for _ in rows]
        done = [False] * len(rows)
        caches = None
        step_ids = ids
        with torch.no_grad():
            for _ in range(max_new_tokens):
                result = model(step_ids, mask, caches=caches, use_cache=True)
                caches = result.caches
                nxt = result.logits[:, -1].argmax(-1)
                for i, t in enumerate(nxt.tolist()):
                    if done[i]:
                        continue
                    if t == eos:
                        done[i] = True
                        continue
                    new[i].append(t)
                    tail = tokenizer.decode(new[i][-window:], skip_special_tokens=True)
                    if any(s and s in tail for s in chunk_stops[i]):
                        done[i] = True
                if all(done):
                    break
                step_ids = nxt[:, None]
                mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype, device=device)], dim=1)
        out += [truncate(tokenizer.decode(n, skip_special_tokens=True), s) for n, s in zip(new, chunk_stops)]
        if progress:
            progress(len(out), len(prompts))
    return out
