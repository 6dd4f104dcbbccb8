"""Do equivalent programs in different PLs sit together inside the model?

A *group* is one problem with a parallel solution in every PL analysed: its programs are
``program_text(problem, pl)`` (prompt + solution, the whole function). Each program is run
through the model and its hidden states are pooled over the program's tokens, for every
layer (``embed``; layer 0 is the embedding output, layer ``L`` the last decoder layer as the
model returns it, i.e. after the final norm for Llama-style models). Per layer, with cosine
distance ``1 - cos``:

* **intra**: mean over groups of the mean pairwise distance between the group's programs
  (the Parallel-SFT paper's "average intra-cluster distance", reported to drop 27%);
* **inter**: mean distance between programs of *different* groups, over all such pairs
  (computed exactly, in time linear in the number of programs, from each group's mean unit
  vector), and **ratio** = intra / inter (below 1: groups are tighter than the space at large;
  it corrects for a model whose whole space shrinks or grows);
* **cross-PL retrieval**: for each ordered PL pair (a, b), each program in a ranks every
  program in b by cosine similarity; **top-1** accuracy and **MRR** of the same problem's
  program, averaged over pairs (ties are broken at random, in expectation; chance is 1/G
  for top-1 with G groups).

Uncertainty: a percentile bootstrap over groups (groups resampled with replacement, seeded).
Intra and inter distances are recomputed on each resampled set (inter only over pairs of
*different* problems, so a group drawn twice is never compared with itself); retrieval is
ranked once against all candidates and its queries (groups) are resampled. Every model and
layer uses the same resampled groups, so differences between models are paired.

Metric functions take ``[group, pl, dim]`` arrays directly. ``analyze`` runs the whole thing
for several models; ``write_outputs`` writes ``results.json``, ``report.md`` and the plots.

Report layer (``report_layer="best"``, the default): one layer shared by all models, the one
with the highest retrieval MRR averaged over the models, among the transformer layers (layer
0, a bag of token embeddings, is never picked by this rule: its retrieval reflects shared
identifiers, not what the model computed) where the models differ at all (with LoRA on the
top layers only, the layers below are the base model's in every model, equal by
construction). A shared layer keeps the relative change of intra
distance like for like. Choosing by retrieval favours that layer's retrieval numbers a little;
every layer's numbers are in ``results.json`` and the metric-vs-layer plot. Models whose
analysed layers differ each get their own best layer. ``"last"`` and a layer index are the
other choices.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import Estimate, fmt
from xpl.io import write_json
from xpl.problems.problem import Problem

POOLINGS = ("mean", "last")
METRICS = ("intra", "inter", "ratio", "top1", "mrr")
METRIC_LABELS = {
    "intra": "intra-group distance",
    "inter": "inter-group distance",
    "ratio": "intra / inter",
    "top1": "cross-PL retrieval top-1",
    "mrr": "cross-PL retrieval MRR",
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class AnalysisError(ValueError):
    """Bad analysis inputs (PLs without solutions, too few groups, layers out of range)."""


# ---------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Groups:
    """Problems with a program in every PL; ``texts`` in [group, pl] order (row-major)."""

    problems: tuple[Problem, ...]
    languages: tuple[str, ...]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.problems)


def make_groups(
    problems: Sequence[Problem], languages: Sequence[str], max_problems: int | None = None, seed: int = 0
) -> Groups:
    """The problems having a solution in every PL of ``languages`` (and renderable in each),
    at most ``max_problems`` of them (a seeded sample, kept in their original order)."""
    from xpl.corpus import program_text
    from xpl.languages import UnsupportedError, get_language

    langs = tuple(dict.fromkeys(get_language(x).name for x in languages))
    if len(langs) < 2:
        raise AnalysisError(f"the analysis needs at least two PLs, got {list(langs)}")
    for lang in langs:
        if not any(lang in p.solutions for p in problems):
            raise AnalysisError(f"no problem has a {lang} solution; generate or verify problems in {lang} first")
    kept: list[tuple[Problem, list[str]]] = []
    for p in problems:
        if not all(lang in p.solutions for lang in langs):
            continue
        try:
            kept.append((p, [program_text(p, lang) for lang in langs]))
        except UnsupportedError:
            continue
    if max_problems is not None and len(kept) > max_problems:
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(len(kept), size=max_problems, replace=False).tolist())
        kept = [kept[i] for i in keep]
    if len(kept) < 2:
        raise AnalysisError(f"only {len(kept)} problem(s) have solutions in all of {', '.join(langs)}; at least 2 are needed")
    return Groups(tuple(p for p, _ in kept), langs, tuple(t for _, texts in kept for t in texts))


# ---------------------------------------------------------------------- embedding


def parse_layers(spec: str | int | Sequence[int]) -> str | list[int]:
    """``"all"``, ``"last"``, an index or ``"0,3,6"`` (negative indices count from the end)."""
    if isinstance(spec, int):
        return [spec]
    if isinstance(spec, str):
        s = spec.strip().lower()
        if s in ("all", "last"):
            return s
        try:
            out = [int(x) for x in s.split(",") if x.strip()]
        except ValueError:
            raise AnalysisError(f"layers must be all, last or comma-separated indices, got {spec!r}") from None
        if not out:
            raise AnalysisError(f"layers must be all, last or comma-separated indices, got {spec!r}")
        return out
    return [int(x) for x in spec]


def resolve_layers(spec: str | int | Sequence[int], num_states: int) -> list[int]:
    """Layer indices in ``0..num_states-1`` (``num_states`` = decoder layers + 1)."""
    parsed = parse_layers(spec)
    if parsed == "all":
        return list(range(num_states))
    if parsed == "last":
        return [num_states - 1]
    out = []
    for i in parsed:
        j = i + num_states if i < 0 else i
        if not 0 <= j < num_states:
            raise AnalysisError(f"layer {i} is out of range: the model has layers 0..{num_states - 1} (0 = embeddings)")
        out.append(j)
    return list(dict.fromkeys(out))


def _max_length(model, tokenizer) -> int:
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        n = getattr(tokenizer, "model_max_length", 2048)
    return int(min(n, 8192))


def embed(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: str | int | Sequence[int] = "all",
    pooling: str = "mean",
    batch_size: int = 16,
    max_length: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    info: dict[str, Any] | None = None,
) -> np.ndarray:
    """Pooled hidden states ``[layer, text, dim]`` (float32) of ``texts``.

    Each text is tokenized without special tokens and preceded by the BOS token when the
    tokenizer has one (as in training); pooling runs over the text's own tokens (``mean``:
    their average, padding and BOS left out; ``last``: the last token's state). Texts longer
    than ``max_length`` tokens (default: the model's context, at most 8192) are cut, BOS
    included; ``info`` (a dict, if given) receives ``max_length`` and the number of
    ``truncated`` texts. Runs on the model's device, in batches sorted by length, without
    gradients, through the base model (no LM head)."""
    import torch

    if pooling not in POOLINGS:
        raise AnalysisError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if not texts:
        raise AnalysisError("nothing to embed: no texts")
    if batch_size < 1:
        raise AnalysisError(f"batch_size must be at least 1, got {batch_size}")
    limit = max_length or _max_length(model, tokenizer)
    bos = tokenizer.bos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    prefix = [bos] if bos is not None else []
    ids = [(prefix + list(x))[:limit] for x in encoded]
    truncated = sum(len(prefix) + len(x) > limit for x in encoded)
    if info is not None:
        info.update(max_length=limit, truncated=truncated)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    base = getattr(model, "base_model", None)
    if base is None:
        base = model
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    chosen: list[int] | None = None
    out: np.ndarray | None = None
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                attention = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    input_ids[r, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                    attention[r, : len(ids[i])] = 1
                pool = attention.clone()
                lengths = attention.sum(1)
                if prefix:  # leave BOS out of the mean unless it is all there is
                    pool[lengths > 1, 0] = 0
                input_ids, attention, pool = input_ids.to(device), attention.to(device), pool.to(device)
                states = base(input_ids=input_ids, attention_mask=attention, output_hidden_states=True, use_cache=False).hidden_states
                if chosen is None:
                    chosen = resolve_layers(layers, len(states))
                    out = np.zeros((len(chosen), len(ids), states[0].shape[-1]), dtype=np.float32)
                assert out is not None
                last = (lengths - 1).to(device)
                weights = pool.unsqueeze(-1).float()
                for k, layer in enumerate(chosen):
                    h = states[layer].float()
                    if pooling == "mean":
                        v = (h * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                    else:
                        v = h[torch.arange(len(rows), device=device), last]
                    out[k, rows] = v.cpu().numpy()
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
    finally:
        if was_training:
            model.train()
    assert out is not None
    return out


# ---------------------------------------------------------------------- metrics


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[0] < 2 or X.shape[1] < 2:
        raise AnalysisError(f"expected a [group, pl, dim] array with at least 2 groups and 2 PLs, got shape {X.shape}")
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def intra_distances(X: np.ndarray) -> np.ndarray:
    """``[group]``: each group's mean pairwise cosine distance between its PLs' programs."""
    U = _unit(X)
    P = U.shape[1]
    s = U.sum(axis=1)
    pair_sims = ((s * s).sum(-1) - (U * U).sum(axis=(1, 2))) / (P * (P - 1))
    return 1.0 - pair_sims


def _inter_similarity(C: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Mean cosine similarity between programs of different groups, for each row of group
    weights ``W`` ([reps, G] counts); ``C`` holds each group's mean unit vector."""
    sq = (C * C).sum(-1)  # c_g . c_g
    if C.shape[0] <= C.shape[1]:
        M = C @ C.T
        total = np.einsum("rg,gh,rh->r", W, M, W)
    else:
        WC = W @ C
        total = (WC * WC).sum(-1)
    num = total - (W * W) @ sq
    den = W.sum(1) ** 2 - (W * W).sum(1)
    return num / np.maximum(den, 1e-12)


def inter_distance(X: np.ndarray) -> float:
    """Mean cosine distance between programs of different groups (over all such pairs)."""
    C = _unit(X).mean(axis=1)
    return float(1.0 - _inter_similarity(C, np.ones((1, C.shape[0])))[0])


def _harmonic(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])


def retrieval(X: np.ndarray, languages: Sequence[str] | None = None) -> dict[str, Any]:
    """Cross-PL retrieval for every ordered PL pair (a, b): each group's program in a ranks
    every group's program in b by cosine similarity.

    Returns ``pairs`` ({"a->b": {"top1", "mrr"}}), ``top1`` and ``mrr`` (means over pairs) and
    ``hits``/``rr`` ([pair, group] arrays: the expected hit and reciprocal rank of each query
    when ties are broken at random)."""
    U = _unit(X)
    G, P = U.shape[:2]
    names = list(languages) if languages is not None else [str(i) for i in range(P)]
    if len(names) != P:
        raise AnalysisError(f"{len(names)} PL names for {P} PLs")
    H = _harmonic(G)
    hits, rrs, pairs = [], [], {}
    for a in range(P):
        for b in range(P):
            if a == b:
                continue
            S = U[:, a] @ U[:, b].T
            own = np.diag(S)[:, None]
            greater = (S > own).sum(1)
            ties = (S == own).sum(1) - 1
            hit = np.where(greater == 0, 1.0 / (1 + ties), 0.0)
            rr = (H[greater + ties + 1] - H[greater]) / (ties + 1)  # E[1/rank], rank uniform in the tie block
            hits.append(hit)
            rrs.append(rr)
            pairs[f"{names[a]}->{names[b]}"] = {"top1": float(hit.mean()), "mrr": float(rr.mean())}
    hits_a, rr_a = np.array(hits), np.array(rrs)
    return {"pairs": pairs, "top1": float(hits_a.mean()), "mrr": float(rr_a.mean()), "hits": hits_a, "rr": rr_a}


@dataclass(frozen=True)
class LayerStats:
    """One layer's numbers: point estimates, bootstrap replicates and per-pair retrieval."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]  # metric -> [reps]
    pairs: dict[str, dict[str, float]]

    def estimates(self, level: float = 0.95) -> dict[str, Estimate]:
        alpha = (1 - level) / 2
        return {
            m: Estimate(self.point[m], float(np.quantile(self.replicates[m], alpha)), float(np.quantile(self.replicates[m], 1 - alpha)))
            for m in METRICS
        }

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        return {**{m: e.to_dict() for m, e in self.estimates(level).items()}, "pairs": self.pairs}


def resample_weights(num_groups: int, reps: int, seed: int = 0) -> np.ndarray:
    """``[reps, num_groups]``: how often each group is drawn in each bootstrap replicate."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_groups, size=(reps, num_groups))
    W = np.zeros((reps, num_groups))
    np.add.at(W, (np.repeat(np.arange(reps), num_groups), draws.ravel()), 1.0)
    return W


def group_stats(X: np.ndarray, W: np.ndarray, languages: Sequence[str] | None = None) -> LayerStats:
    """Point estimates and bootstrap replicates (for the group weights ``W``) of one layer."""
    U = _unit(X)
    G = U.shape[0]
    if W.ndim != 2 or W.shape[1] != G:
        raise AnalysisError(f"bootstrap weights must be [reps, {G}], got {W.shape}")
    intra_g = intra_distances(U)
    C = U.mean(axis=1)
    ret = retrieval(U, languages)
    hit_g, rr_g = ret["hits"].mean(0), ret["rr"].mean(0)
    n = W.sum(1)
    intra_r = W @ intra_g / n
    inter_r = 1.0 - _inter_similarity(C, W)
    intra, inter = float(intra_g.mean()), float(1.0 - _inter_similarity(C, np.ones((1, G)))[0])
    point = {
        "intra": intra,
        "inter": inter,
        "ratio": intra / max(inter, 1e-12),
        "top1": float(hit_g.mean()),
        "mrr": float(rr_g.mean()),
    }
    replicates = {
        "intra": intra_r,
        "inter": inter_r,
        "ratio": intra_r / np.maximum(inter_r, 1e-12),
        "top1": W @ hit_g / n,
        "mrr": W @ rr_g / n,
    }
    return LayerStats(point, replicates, ret["pairs"])


def layer_metrics(
    X: np.ndarray, languages: Sequence[str] | None = None, reps: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Every metric of one layer's ``[group, pl, dim]`` array as ``{metric: {mean, low,
    high}}`` (``mean`` is the point estimate on all groups, ``low``/``high`` the bootstrap
    interval) plus ``pairs`` (per ordered PL pair retrieval)."""
    W = resample_weights(np.asarray(X).shape[0], reps, seed)
    return group_stats(X, W, languages).to_dict(level)


def relative_change(new: LayerStats, ref: LayerStats, metric: str = "intra", level: float = 0.95) -> Estimate:
    """(new - ref) / ref of a metric, with a paired interval (both computed with the same
    bootstrap weights)."""
    alpha = (1 - level) / 2
    r = (new.replicates[metric] - ref.replicates[metric]) / np.maximum(np.abs(ref.replicates[metric]), 1e-12)
    point = (new.point[metric] - ref.point[metric]) / max(abs(ref.point[metric]), 1e-12)
    return Estimate(point, float(np.quantile(r, alpha)), float(np.quantile(r, 1 - alpha)))


# ---------------------------------------------------------------------- the analysis


def _preflight(spec: Any) -> None:
    from xpl.models.loading import ModelNotFound, check, is_tiny_spec

    if isinstance(spec, (tuple, list)):
        return
    if is_tiny_spec(str(spec)):
        raise ModelNotFound(f"{spec!r} is a tiny model to build and train first, not a folder to analyse")
    check(str(spec))


def _load(spec: Any, device: str | None, dtype: str | None):
    """(model, tokenizer, owned): owned models are freed after use."""
    import torch

    if isinstance(spec, (tuple, list)):
        return spec[0], spec[1], False
    from xpl.models.loading import load_model

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dt = dtype or ("bfloat16" if dev.startswith("cuda") else "float32")
    model, tokenizer = load_model(spec, dtype=dt)
    return model.to(dev), tokenizer, True


def _signature(stats: LayerStats) -> tuple[float, ...]:
    """A layer's point metrics, rounded: equal for two models whose hidden states there agree."""
    return tuple(round(float(stats.point[k]), 9) for k in sorted(stats.point))


def _choose_layers(per_model: dict[str, dict[int, LayerStats]], policy: str | int) -> dict[str, int]:
    if isinstance(policy, int) or (isinstance(policy, str) and policy.lstrip("-").isdigit()):
        want = int(policy)
        out = {}
        for name, layers in per_model.items():
            top = max(layers) + 1
            j = want + top if want < 0 else want
            if j not in layers:
                raise AnalysisError(f"report layer {want} was not analysed for {name} (analysed: {sorted(layers)})")
            out[name] = j
        return out
    if policy == "last":
        return {name: max(layers) for name, layers in per_model.items()}
    if policy != "best":
        raise AnalysisError(f"report_layer must be best, last or a layer index, got {policy!r}")

    def candidates(layers: Sequence[int]) -> list[int]:
        return [i for i in layers if i > 0] or list(layers)

    layer_sets = {tuple(sorted(layers)) for layers in per_model.values()}
    if len(layer_sets) == 1:
        shared = candidates(next(iter(layer_sets)))
        # Layers no training changed (below the adapted ones when LoRA covers only the top
        # layers) show every model the same by construction: leave them out when some do differ.
        changed = [i for i in shared if len({_signature(layers[i]) for layers in per_model.values()}) > 1]
        shared = changed or shared
        best = max(shared, key=lambda i: (np.mean([layers[i].point["mrr"] for layers in per_model.values()]), i))
        return dict.fromkeys(per_model, best)
    return {name: max(candidates(sorted(layers)), key=lambda i: (layers[i].point["mrr"], i)) for name, layers in per_model.items()}


def _projections(X: np.ndarray, seed: int) -> dict[str, list[list[float]]]:
    """2-D PCA and t-SNE coordinates of a ``[group, pl, dim]`` array's unit vectors."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    U = _unit(X)
    flat = U.reshape(-1, U.shape[-1])
    out = {"pca": PCA(n_components=2, random_state=seed).fit_transform(flat).round(5).tolist()}
    n = flat.shape[0]
    if n >= 6:
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed)
        out["tsne"] = tsne.fit_transform(flat).round(5).tolist()
    return out


def analyze(
    models: Mapping[str, Any],
    problems: Sequence[Problem],
    languages: Sequence[str],
    layers: str | int | Sequence[int] = "all",
    pooling: str = "mean",
    *,
    out_dir: str | Path | None = None,
    max_problems: int | None = 100,
    report_layer: str | int = "best",
    batch_size: int = 16,
    max_length: int | None = None,
    reps: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    projection_groups: int = 20,
    device: str | None = None,
    dtype: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The representation analysis of several models on the same groups.

    ``models``: name -> model folder (or ``smollm2-135m``), or an already loaded
    ``(model, tokenizer)`` pair; the first is the reference for relative changes. Folders are
    loaded one at a time (on ``device``, default CUDA when there is one, in ``dtype``, default
    bfloat16 on CUDA and float32 on CPU) and freed after use. Returns a JSON-serialisable
    dict (see ``write_outputs`` for the files); with ``out_dir`` the files are written too.
    ``progress(stage, done, total)`` is called as programs are embedded."""
    if not models:
        raise AnalysisError("no models to analyse")
    if pooling not in POOLINGS:
        raise AnalysisError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    parse_layers(layers)  # bad specs fail before any model is loaded
    for spec in models.values():
        _preflight(spec)
    groups = make_groups(problems, languages, max_problems, seed)
    G, P = len(groups), len(groups.languages)
    W = resample_weights(G, reps, seed)
    n_proj = min(projection_groups, G)
    started = time.perf_counter()
    stats: dict[str, dict[int, LayerStats]] = {}
    kept: dict[str, dict[int, np.ndarray]] = {}  # the projection groups' vectors, per layer
    info: dict[str, dict[str, Any]] = {}
    for name, spec in models.items():
        t0 = time.perf_counter()
        model, tokenizer, owned = _load(spec, device, dtype)
        emb_info: dict[str, Any] = {}
        report = (lambda d, t, _n=name: progress(f"embedding {_n}", d, t)) if progress else None
        E = embed(model, tokenizer, groups.texts, "all", pooling, batch_size, max_length, report, emb_info)
        chosen = resolve_layers(layers, E.shape[0])
        info[name] = {
            "source": str(spec) if not isinstance(spec, (tuple, list)) else "in memory",
            "num_hidden_states": int(E.shape[0]),
            "hidden_size": int(E.shape[-1]),
            **emb_info,
        }
        if owned:
            del model
            _free_device_memory()
        X = E.reshape(E.shape[0], G, P, E.shape[-1])
        stats[name] = {i: group_stats(X[i], W, groups.languages) for i in chosen}
        kept[name] = {i: X[i, :n_proj].copy() for i in chosen}
        info[name]["seconds"] = round(time.perf_counter() - t0, 2)
        if progress:
            progress(f"metrics {name}", 1, 1)
    chosen_layers = _choose_layers(stats, report_layer)
    names = list(models)
    ref = names[0]
    results: dict[str, Any] = {
        "languages": list(groups.languages),
        "pairs": [f"{a}->{b}" for a in groups.languages for b in groups.languages if a != b],
        "num_groups": G,
        "problems": [p.name for p in groups.problems],
        "pooling": pooling,
        "layers": layers if isinstance(layers, str) else list(parse_layers(layers)),
        "bootstrap": {"reps": reps, "level": level, "seed": seed, "over": "groups"},
        "chance": {"top1": 1.0 / G, "mrr": float(_harmonic(G)[G] / G)},
        "report_layer": {"policy": str(report_layer), "layers": chosen_layers},
        "reference": ref,
        "models": {},
        "summary": {},
        "projections": {},
    }
    for name in names:
        results["models"][name] = {
            **info[name],
            "layers": [{"layer": i, **s.to_dict(level)} for i, s in sorted(stats[name].items())],
        }
        layer = chosen_layers[name]
        s = stats[name][layer]
        row: dict[str, Any] = {"layer": layer, **{m: e.to_dict() for m, e in s.estimates(level).items()}}
        r = stats[ref][chosen_layers[ref]]
        row["intra_change"] = relative_change(s, r, "intra", level).to_dict() if name != ref else None
        row["ratio_change"] = relative_change(s, r, "ratio", level).to_dict() if name != ref else None
        results["summary"][name] = row
        results["projections"][name] = {
            "layer": layer,
            "problems": [p.name for p in groups.problems[:n_proj]],
            "languages": list(groups.languages),
            **_projections(kept[name][layer], seed),
        }
    results["seconds"] = round(time.perf_counter() - started, 2)
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results


def _free_device_memory() -> None:
    import gc

    import torch

    if torch.cuda.is_available():  # on CPU, dropping the last reference is enough (a full gc costs seconds)
        gc.collect()
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------- report and plots


def _pct(e: Mapping[str, float] | None) -> str:
    if e is None:
        return "(reference)"
    return f"{e['mean']:+.1%} [{e['low']:+.1%}, {e['high']:+.1%}]"


def report_markdown(results: Mapping[str, Any]) -> str:
    """A markdown section: per model at its report layer, intra and inter distance, their
    ratio, retrieval top-1 and MRR with 95% intervals, and the relative change of intra
    distance (and of the ratio) against the first model."""
    ref = results["reference"]
    level = results["bootstrap"]["level"]
    policy = results["report_layer"]["policy"]
    why = {
        "best": "the transformer layer with the best retrieval MRR averaged over the models, among those where the models differ",
        "last": "each model's last analysed layer",
    }.get(policy, f"layer {policy}")
    lines = [
        "## Representations: do equivalent programs in different PLs sit together?",
        "",
        f"{results['num_groups']} problems, each a group of programs in {', '.join(results['languages'])}; "
        f"{results['pooling']}-pooled hidden states, cosine distance. Layer: {why}. "
        f"Intervals: {level:.0%} bootstrap over problems ({results['bootstrap']['reps']} resamples). "
        f"Chance retrieval: top-1 {results['chance']['top1']:.3f}, MRR {results['chance']['mrr']:.3f}.",
        "",
        f"| model | layer | intra distance | inter distance | intra / inter | retrieval top-1 | retrieval MRR | intra vs {ref} | ratio vs {ref} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["summary"].items():
        cells = [fmt(row[m]) for m in METRICS]
        lines.append(f"| {name} | {row['layer']} | " + " | ".join(cells) + f" | {_pct(row['intra_change'])} | {_pct(row['ratio_change'])} |")
    lines += [
        "",
        "Lower intra distance and ratio, higher retrieval: equivalent programs sit closer together. "
        "The Parallel-SFT paper reports a 27% drop in average intra-cluster distance after Parallel-SFT.",
        "",
    ]
    return "\n".join(lines)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def plot_metrics(results: Mapping[str, Any], path: str | Path) -> Path:
    """Every metric against the layer, one line (with its interval as a band) per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, metric in zip(axes.flat, METRICS):
        for name, model in results["models"].items():
            xs = [row["layer"] for row in model["layers"]]
            ys = [row[metric]["mean"] for row in model["layers"]]
            lo = [row[metric]["low"] for row in model["layers"]]
            hi = [row[metric]["high"] for row in model["layers"]]
            (line,) = ax.plot(xs, ys, marker="o", markersize=3, label=name)
            ax.fill_between(xs, lo, hi, alpha=0.2, color=line.get_color())
        if metric in ("top1", "mrr"):
            ax.axhline(results["chance"][metric], color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set_title(METRIC_LABELS[metric])
    axes.flat[0].legend(fontsize=8)
    ax = axes.flat[5]
    styles = ("-", "--", ":", "-.")
    for k, (name, model) in enumerate(results["models"].items()):
        for j, pair in enumerate(results["pairs"]):
            ax.plot(
                [r["layer"] for r in model["layers"]],
                [r["pairs"][pair]["mrr"] for r in model["layers"]],
                color=f"C{j % 10}",
                linestyle=styles[k % len(styles)],
                linewidth=1,
                label=f"{name}: {pair}",
            )
    ax.set_title("retrieval MRR per PL pair (line style = model)")
    for ax in axes.flat:
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if len(results["models"]) * len(results["pairs"]) <= 12:
        ax.legend(fontsize=6)
    fig.suptitle(f"{results['pooling']}-pooled hidden states, {results['num_groups']} problems in {', '.join(results['languages'])}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_projection(results: Mapping[str, Any], name: str, path: str | Path) -> Path:
    """PCA and t-SNE of one model's report layer: colour = problem, marker = PL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    proj = results["projections"][name]
    langs = proj["languages"]
    n_groups = len(proj["problems"])
    methods = [m for m in ("pca", "tsne") if m in proj]
    fig, axes = plt.subplots(1, len(methods), figsize=(6.5 * len(methods), 6), squeeze=False)
    cmap = plt.get_cmap("tab20")
    colours = np.array([cmap(g % 20) for g in range(n_groups)])
    for ax, method in zip(axes[0], methods):
        pts = np.asarray(proj[method]).reshape(n_groups, len(langs), 2)
        centres = np.repeat(pts.mean(1, keepdims=True), len(langs), axis=1)
        spokes = np.stack([centres, pts], axis=2).reshape(-1, 2, 2)  # [group * pl, (centre, point), xy]
        ax.add_collection(LineCollection(spokes, colors=np.repeat(colours, len(langs), axis=0), linewidths=0.6, alpha=0.5))
        for p in range(len(langs)):
            ax.scatter(pts[:, p, 0], pts[:, p, 1], c=colours, marker=MARKERS[p % len(MARKERS)], s=40, edgecolors="black", linewidths=0.3)
        ax.set_title(f"{'PCA' if method == 'pca' else 't-SNE'}, layer {proj['layer']}")
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker=MARKERS[p % len(MARKERS)], linestyle="", color="grey", label=lang) for p, lang in enumerate(langs)]
    axes[0][-1].legend(handles=handles, title="PL (colour = problem)", fontsize=8, loc="best")
    fig.suptitle(f"{name}: {n_groups} problems, lines join each program to its problem's centre")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """``results.json``, ``report.md``, ``metrics_by_layer.png`` and one
    ``projection_<model>.png`` per model in ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_metrics(results, out / "metrics_by_layer.png")]
    for i, name in enumerate(results["projections"]):
        slug = _slug(name)
        if any(_slug(other) == slug for other in list(results["projections"])[:i]):
            slug = f"{slug}-{i}"
        plots.append(plot_projection(results, name, out / f"projection_{slug}.png"))
    results["plots"] = [p.name for p in plots]
    report = report_markdown(results) + "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in plots) + "\n"
    (out / "report.md").write_text(report)
    write_json(out / "results.json", _jsonable(results), indent=1)
    return [out / "results.json", out / "report.md", *plots]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
