"""Multilingual scaling laws: per-PL laws L(N, D), the synergy matrix, the proportion-dependent
law and the allocation of a token budget across PLs. (The whole fit of a sweep with its
plots and report: ``scaling_report``; the allocation study that trains the allocation
against uniform: ``xpl.experiments.allocation``.)

**Per-PL law** ``L(N, D) = E + A / N^alpha + B / D^beta`` (N: non-embedding parameters, D:
training tokens), fitted as Besiroglu et al. (2024, "Chinchilla scaling: a replication
attempt") fit it, because their replication showed that the least-squares fit in linear
space of the original paper gives wrong parameters and far too narrow intervals:

* in log space, with the log-sum-exp form ``log L = LSE(a - alpha log N, b - beta log D, e)``
  (``A = e^a``, ``B = e^b``, ``E = e^e``), so every point weighs by its relative error and the
  parameters stay positive without constraints;
* Huber loss on the log residuals with ``delta = 1e-3`` (robust to a few bad runs);
* L-BFGS-B from a grid of initialisations, keeping the best optimum. Their grid has 4,500
  starts; here the objective is first evaluated at every grid point (a vectorised, cheap
  step) and L-BFGS-B runs from the ``starts`` best of them (default 10) -- the same minimum in
  our tests at a fraction of the cost, which is what makes a bootstrap of hundreds of refits
  affordable;
* bootstrap confidence intervals: the runs are resampled with replacement and refitted
  (``bootstrap`` times, each from the full fit's optimum and the best grid starts), 95%
  percentile intervals for every parameter and every prediction;
* residual diagnostics: log residuals per run, their RMS and largest value, R^2 in log
  space, and the mean residual per model size and per budget (a trend there means the form
  does not fit, not noise).

**Synergy** of PL i with PL j at a grid cell (size, budget D): the held-out loss on i of the
run trained on i alone with D tokens, minus that of the run trained on i and j (D/2 each):
positive when j's tokens helped i more than as many more tokens of i would have.

**Proportion-dependent law**, fitted on mixture runs. For target PL k under proportions p:

    L_k(N, D, p) = E_k + A_k / N^alphaN_k + B_k / (p_k D_x)^alphaD_k,
    D_x = D (1 + gamma sum_{i != j} p_i p_j tau_ij)

with the per-PL parameters from the monolingual fits (at p = one PL alone, D_x = D and the
law is exactly the per-PL law) and the cross-PL terms fitted on the mixture runs. D_x is the
multilingual paper's effective data: tokens of other PLs count as extra tokens through the
pairwise coefficients tau_ij. Only the products c_ij = gamma tau_ij can be identified; they are
fitted freely (c_ij >= -1 keeps D_x positive) and reported as gamma = max |c_ij| and tau_ij =
c_ij / gamma (|tau| <= 1). The loss on the mixture itself, sum_k p_k L_k, has E(p) =
sum_k p_k E_k exactly, and alphaN(p) = sum_k p_k alphaN_k, alphaD(p) = sum_k p_k alphaD_k are
the proportion-weighted exponents of the paper's form; both are reported for any p.

**Allocation**: for a model size N and a token budget D, the proportions p (each at least
``floor``) that minimise the predicted weighted average loss sum_k w_k L_k(N, D, p) (uniform
weights: the average loss over PLs), with the uniform allocation as the baseline.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PARAMS = ("E", "A", "B", "alpha", "beta")
HUBER_DELTA = 1e-3


class ScalingError(ValueError):
    """Input a scaling fit cannot use (too few points, NaN losses, bad proportions)."""


# ---------------------------------------------------------------------------------------------
# Per-PL law


def check_points(N: Sequence[float], D: Sequence[float], L: Sequence[float], what: str = "points", labels: Sequence[str] | None = None):
    """The points as float arrays, or a ``ScalingError`` naming the first bad one."""
    N, D, L = (np.asarray(x, dtype=float) for x in (N, D, L))
    if not (N.shape == D.shape == L.shape) or N.ndim != 1:
        raise ScalingError(f"{what}: N, D and L must be three lists of the same length, got {N.shape}, {D.shape}, {L.shape}")
    for name, arr in (("loss", L), ("N", N), ("D", D)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if bad.size:
            i = int(bad[0])
            where = labels[i] if labels is not None else f"point {i}"
            raise ScalingError(f"{what}: {where} has {name} = {float(arr[i])!r}; every {name} must be a finite positive number")
    need = len(PARAMS) + 1
    if len(L) < need:
        raise ScalingError(f"{what}: too few points to fit: {len(L)} runs for {len(PARAMS)} parameters (need at least {need})")
    if len(np.unique(N)) < 2 or len(np.unique(D)) < 2:
        raise ScalingError(f"{what}: the runs need at least 2 model sizes and 2 budgets, got {len(np.unique(N))} and {len(np.unique(D))}")
    return N, D, L


def _objective(theta: np.ndarray, x: np.ndarray, y: np.ndarray, logL: np.ndarray, w: np.ndarray):
    """Huber loss of the log residuals and its gradient, for theta = (a, b, e, alpha, beta),
    x = log N, y = log D, w = multiplicity of each point (bootstrap weights)."""
    a, b, e, alpha, beta = theta
    t = np.stack([a - alpha * x, b - beta * y, np.full_like(x, e)])
    m = t.max(axis=0)
    ex = np.exp(t - m)
    s = ex.sum(axis=0)
    pred = m + np.log(s)
    soft = ex / s  # d pred / d t_i
    r = pred - logL
    small = np.abs(r) <= HUBER_DELTA
    # Huber (scipy.special.huber's definition), written out to get its derivative too.
    loss = np.where(small, 0.5 * r * r, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA))
    dr = np.where(small, r, HUBER_DELTA * np.sign(r)) * w
    grad = np.array([(dr * soft[0]).sum(), (dr * soft[1]).sum(), (dr * soft[2]).sum(), -(dr * soft[0] * x).sum(), -(dr * soft[1] * y).sum()])
    return float((loss * w).sum()), grad


def _grid() -> np.ndarray:
    """Initialisations (a, b, e, alpha, beta), after Besiroglu et al.'s grid."""
    axes = [np.arange(0, 26, 5.0), np.arange(0, 26, 5.0), np.arange(-1, 1.5, 0.5), np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5)]
    return np.array(list(itertools.product(*axes)))


_BOUNDS = [(-20, 60), (-20, 60), (-10, 5), (0, 4), (0, 4)]


def _grid_values(grid: np.ndarray, x, y, logL, w) -> np.ndarray:
    a, b, e, alpha, beta = (grid[:, i : i + 1] for i in range(5))
    t1, t2 = a - alpha * x[None], b - beta * y[None]
    t3 = np.broadcast_to(e, t1.shape)
    m = np.maximum(np.maximum(t1, t2), t3)
    pred = m + np.log(np.exp(t1 - m) + np.exp(t2 - m) + np.exp(t3 - m))
    r = pred - logL[None]
    h = np.where(np.abs(r) <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA))
    return (h * w[None]).sum(axis=1)


def _fit_theta(x, y, logL, w, starts: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize

    # The Huber objective is tiny (delta = 1e-3 on log residuals of about 1e-2): scaled to
    # order 1, or L-BFGS-B's stopping rule (a relative decrease, but measured against at
    # least 1) ends the search early, and bootstrap refits stay where they started.
    scale = 1.0 / (HUBER_DELTA**2 * max(float(w.sum()), 1.0))

    def scaled(theta):
        value, grad = _objective(theta, x, y, logL, w)
        return value * scale, grad * scale

    best, best_val = None, math.inf
    for s in starts:
        res = minimize(scaled, s, jac=True, method="L-BFGS-B", bounds=_BOUNDS, options={"maxiter": 2000})
        if res.fun < best_val:
            best, best_val = res.x, res.fun
    return best


def _theta_to_params(theta) -> dict[str, float]:
    a, b, e, alpha, beta = theta
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(alpha), "beta": float(beta)}


def law(params: Mapping[str, float], N, D):
    """L(N, D) = E + A / N^alpha + B / D^beta."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    return params["E"] + params["A"] / N ** params["alpha"] + params["B"] / D ** params["beta"]


@dataclass
class LawFit:
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    samples: list[dict[str, float]]  # the bootstrap fits
    N: list[float]
    D: list[float]
    L: list[float]
    labels: list[str]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def predict(self, N, D, level: float = 0.95) -> dict[str, Any]:
        """Point prediction and the bootstrap percentile interval of L(N, D)."""
        point = law(self.params, N, D)
        boot = np.array([law(s, N, D) for s in self.samples])
        lo, hi = np.percentile(boot, [50 * (1 - level), 50 * (1 + level)], axis=0) if len(boot) else (point, point)
        return {"loss": point, "low": lo, "high": hi}

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "ci95": {k: list(v) for k, v in self.ci.items()},
            "bootstrap": len(self.samples),
            "diagnostics": self.diagnostics,
            "points": [{"run": r, "N": n, "D": d, "loss": loss} for r, n, d, loss in zip(self.labels, self.N, self.D, self.L)],
        }


def fit_law(
    N: Sequence[float],
    D: Sequence[float],
    L: Sequence[float],
    bootstrap: int = 200,
    seed: int = 0,
    starts: int = 10,
    labels: Sequence[str] | None = None,
    what: str = "fit",
    level: float = 0.95,
) -> LawFit:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (see the module docstring for the recipe)."""
    N, D, L = check_points(N, D, L, what, labels)
    labels = list(labels) if labels is not None else [f"point {i}" for i in range(len(L))]
    x, y, logL = np.log(N), np.log(D), np.log(L)
    w = np.ones_like(x)
    grid = _grid()
    order = np.argsort(_grid_values(grid, x, y, logL, w))
    theta = _fit_theta(x, y, logL, w, grid[order[:starts]])
    rng = np.random.default_rng(seed)
    samples = []
    few = grid[order[: max(1, starts // 12)]]
    for _ in range(bootstrap):
        # Resampling as multiplicities: the same points, weighted by how often each was drawn.
        wb = np.bincount(rng.integers(0, len(L), len(L)), minlength=len(L)).astype(float)
        samples.append(_theta_to_params(_fit_theta(x, y, logL, wb, np.vstack([theta, few]))))
    params = _theta_to_params(theta)
    q = (50 * (1 - level), 50 * (1 + level))
    ci = {k: tuple(float(v) for v in np.percentile([s[k] for s in samples], q)) if samples else (params[k], params[k]) for k in PARAMS}
    pred = law(params, N, D)
    resid = np.log(pred) - logL
    ss_tot = float(((logL - logL.mean()) ** 2).sum())
    worst = int(np.argmax(np.abs(resid)))
    diagnostics = {
        "rms_log_residual": float(np.sqrt((resid**2).mean())),
        "max_abs_log_residual": float(np.abs(resid[worst])),
        "worst_run": labels[worst],
        "r2_log": float(1 - (resid**2).sum() / ss_tot) if ss_tot > 0 else float("nan"),
        "mean_residual_by_N": {str(int(n)): float(resid[N == n].mean()) for n in np.unique(N)},
        "mean_residual_by_D": {str(int(d)): float(resid[D == d].mean()) for d in np.unique(D)},
        "residuals": [float(r) for r in resid],
    }
    return LawFit(params, ci, samples, N.tolist(), D.tolist(), L.tolist(), labels, diagnostics)


# ---------------------------------------------------------------------------------------------
# Runs of a sweep -> points


def _losses(rec: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) if v is not None else float("nan") for k, v in rec["loss"].items()}


def check_records(records: Sequence[Mapping[str, Any]]) -> None:
    """NaN losses and proportions that do not sum to 1 are errors naming the run."""
    for rec in records:
        props = rec["proportions"]
        total = sum(props.values())
        if abs(total - 1) > 1e-6 or any(v < 0 for v in props.values()):
            raise ScalingError(f"run {rec['id']}: proportions must be >= 0 and sum to 1, they sum to {total:.6g}")
        for lang, v in _losses(rec).items():
            if not math.isfinite(v) or v <= 0:
                raise ScalingError(f"run {rec['id']}: held-out loss on {lang} is {v!r}; every loss must be a finite positive number")


def monolingual_points(records: Sequence[Mapping[str, Any]], language: str):
    runs = [r for r in records if r["kind"] == "mono" and r["proportions"].get(language) == 1.0 and r.get("organisation", "shuffle") == "shuffle"]
    return [r["N"] for r in runs], [r["D"] for r in runs], [_losses(r)[language] for r in runs], [r["id"] for r in runs]


def fit_languages(records, languages, bootstrap=200, seed=0, progress=None) -> dict[str, LawFit]:
    """One law per PL from its monolingual runs."""
    check_records(records)
    out = {}
    for lang in languages:
        N, D, L, ids = monolingual_points(records, lang)
        out[lang] = fit_law(N, D, L, bootstrap=bootstrap, seed=seed, labels=ids, what=f"{lang} (monolingual runs)")
        if progress:
            progress(lang)
    return out


# ---------------------------------------------------------------------------------------------
# Synergy


def synergy(records: Sequence[Mapping[str, Any]], languages: Sequence[str]) -> dict[str, Any]:
    """The synergy matrix: row i, column j = mean over grid cells of L_i(i alone, D) -
    L_i(i + j at 50/50, D), in the loss unit; also relative to L_i(i alone) and per cell."""
    check_records(records)
    mono = {(r["mixture"], r["size"], r["budget_chars"]): r for r in records if r["kind"] == "mono"}
    gains: dict[tuple[str, str], list[tuple[str, float, float]]] = defaultdict(list)
    for r in records:
        if r["kind"] != "pair":
            continue
        pair = [k for k, v in r["proportions"].items() if v > 0]
        if len(pair) != 2:
            continue
        for i in pair:
            j = pair[1 - pair.index(i)]
            base = mono.get((i, r["size"], r["budget_chars"]))
            if base is None:
                continue
            li, lp = _losses(base)[i], _losses(r)[i]
            gains[(i, j)].append((f"{r['size']}-d{r['budget_chars']}", li - lp, (li - lp) / li))
    K = len(languages)
    absolute = np.full((K, K), np.nan)
    relative = np.full((K, K), np.nan)
    for a, i in enumerate(languages):
        absolute[a, a] = relative[a, a] = 0.0
        for b, j in enumerate(languages):
            if (i, j) in gains:
                absolute[a, b] = float(np.mean([g[1] for g in gains[(i, j)]]))
                relative[a, b] = float(np.mean([g[2] for g in gains[(i, j)]]))
    if not gains:
        raise ScalingError("synergy: no bilingual run has a monolingual run at the same size and budget")
    return {
        "languages": list(languages),
        "gain": absolute.tolist(),
        "relative_gain": relative.tolist(),
        "cells": {f"{i}<-{j}": [{"cell": c, "gain": g, "relative_gain": rg} for c, g, rg in v] for (i, j), v in gains.items()},
    }


# ---------------------------------------------------------------------------------------------
# Proportion-dependent law


def check_mixture(proportions: Mapping[str, float], languages: Sequence[str], what: str = "proportions") -> np.ndarray:
    """Proportions over ``languages`` as an array; errors name the bad share."""
    unknown = sorted(set(proportions) - set(languages))
    if unknown:
        raise ScalingError(f"{what}: {', '.join(unknown)} not among the fitted PLs ({', '.join(languages)})")
    p = np.array([float(proportions.get(k, 0.0)) for k in languages])
    for k, v in zip(languages, p):
        if not math.isfinite(v) or v < 0:
            raise ScalingError(f"{what}.{k}: a share must be a finite number >= 0, got {float(v)!r}")
    if abs(p.sum() - 1) > 1e-6:
        raise ScalingError(f"{what}: shares must sum to 1, they sum to {p.sum():.6g}")
    return p


@dataclass
class ProportionLaw:
    languages: list[str]
    laws: dict[str, dict[str, float]]  # per-PL E, A, B, alpha, beta
    c: np.ndarray  # c_ij = gamma tau_ij, symmetric, zero diagonal
    c_samples: list[np.ndarray] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def gamma(self) -> float:
        return float(np.abs(self.c).max())

    @property
    def tau(self) -> np.ndarray:
        return self.c / self.gamma if self.gamma > 0 else np.zeros_like(self.c)

    def effective_factor(self, p: np.ndarray, c: np.ndarray | None = None) -> float:
        """D_x / D = 1 + gamma sum_{i != j} p_i p_j tau_ij."""
        c = self.c if c is None else c
        return float(1 + p @ c @ p)

    def losses(self, N: float, D: float, proportions: Mapping[str, float] | np.ndarray, c: np.ndarray | None = None) -> dict[str, float]:
        """Predicted held-out loss per PL with a positive share."""
        p = proportions if isinstance(proportions, np.ndarray) else check_mixture(proportions, self.languages)
        dx = D * self.effective_factor(p, c)
        out = {}
        for k, lang in enumerate(self.languages):
            if p[k] > 0:
                q = self.laws[lang]
                out[lang] = float(q["E"] + q["A"] / N ** q["alpha"] + q["B"] / (p[k] * dx) ** q["beta"])
        return out

    def paper_form(self, proportions: Mapping[str, float]) -> dict[str, float]:
        """E(p), alphaN(p), alphaD(p) as proportion-weighted sums, and D_x / D."""
        p = check_mixture(proportions, self.languages)
        col = lambda key: np.array([self.laws[k][key] for k in self.languages])  # noqa: E731
        return {"E": float(p @ col("E")), "alpha_N": float(p @ col("alpha")), "alpha_D": float(p @ col("beta")), "D_x_over_D": self.effective_factor(p)}

    def to_dict(self) -> dict[str, Any]:
        K = len(self.languages)
        pairs = {}
        for i, j in itertools.combinations(range(K), 2):
            key = f"{self.languages[i]}+{self.languages[j]}"
            s = [float(c[i, j]) for c in self.c_samples]
            pairs[key] = {"c": float(self.c[i, j]), "tau": float(self.tau[i, j]), "c_ci95": list(np.percentile(s, [2.5, 97.5])) if s else None}
        g = [float(np.abs(c).max()) for c in self.c_samples]
        return {
            "form": "L_k = E_k + A_k/N^alphaN_k + B_k/(p_k D_x)^alphaD_k; D_x = D (1 + gamma sum_{i!=j} p_i p_j tau_ij)",
            "languages": self.languages,
            "gamma": self.gamma,
            "gamma_ci95": list(np.percentile(g, [2.5, 97.5])) if g else None,
            "pairs": pairs,
            "bootstrap": len(self.c_samples),
            "diagnostics": self.diagnostics,
        }


def _mixture_observations(records, languages):
    obs = []  # (N, D, p, k, loss, run id)
    for r in records:
        if r["kind"] not in ("pair", "mix") or r.get("organisation", "shuffle") != "shuffle":
            continue
        p = check_mixture(r["proportions"], languages, f"run {r['id']}.proportions")
        for k, lang in enumerate(languages):
            if p[k] > 0 and lang in r["loss"]:
                obs.append((float(r["N"]), float(r["D"]), p, k, _losses(r)[lang], r["id"]))
    return obs


def fit_proportion_law(records, fits: Mapping[str, LawFit | Mapping[str, float]], languages: Sequence[str], bootstrap: int = 200, seed: int = 0) -> ProportionLaw:
    """Fit the cross-PL terms c_ij on the mixture runs (shuffled organisation), per-PL laws
    held at ``fits``; Huber loss on log residuals, L-BFGS-B, bootstrap over mixture runs."""
    from scipy.optimize import minimize

    check_records(records)
    languages = list(languages)
    laws = {k: dict(f.params if isinstance(f, LawFit) else f) for k, f in fits.items()}
    missing = [k for k in languages if k not in laws]
    if missing:
        raise ScalingError(f"proportion law: no per-PL law for {', '.join(missing)}")
    obs = _mixture_observations(records, languages)
    K = len(languages)
    iu = list(itertools.combinations(range(K), 2))
    runs = sorted({o[5] for o in obs})
    if len(runs) < len(iu) + 1:
        raise ScalingError(f"proportion law: too few points to fit: {len(runs)} mixture runs for {len(iu)} pair coefficients (need at least {len(iu) + 1})")
    model = ProportionLaw(languages, laws, np.zeros((K, K)))

    def unpack(v):
        c = np.zeros((K, K))
        for (i, j), x in zip(iu, v):
            c[i, j] = c[j, i] = x
        return c

    def objective(v, weights):
        c = unpack(v)
        total = 0.0
        for (N, D, p, k, loss, run) in obs:
            pred = model.losses(N, D, p, c)[languages[k]]
            r = math.log(pred) - math.log(loss)
            h = 0.5 * r * r if abs(r) <= HUBER_DELTA else HUBER_DELTA * (abs(r) - 0.5 * HUBER_DELTA)
            total += weights[run] * h
        return total

    def fit(weights, starts):
        best, val = None, math.inf
        for s in starts:
            res = minimize(objective, s, args=(weights,), method="L-BFGS-B", bounds=[(-1.0, 100.0)] * len(iu))
            if res.fun < val:
                best, val = res.x, res.fun
        return best

    starts = [np.full(len(iu), v) for v in (-0.5, 0.0, 1.0, 2.0, 5.0)]
    v = fit(dict.fromkeys(runs, 1.0), starts)
    model.c = unpack(v)
    rng = np.random.default_rng(seed)
    for _ in range(bootstrap):
        draw = rng.integers(0, len(runs), len(runs))
        weights = dict.fromkeys(runs, 0.0)
        for d in draw:
            weights[runs[d]] += 1
        model.c_samples.append(unpack(fit(weights, [v, np.zeros(len(iu))])))
    resid = []
    for (N, D, p, k, loss, run) in obs:
        resid.append({"run": run, "language": languages[k], "loss": loss, "predicted": model.losses(N, D, p)[languages[k]]})
    r = np.array([math.log(x["predicted"] / x["loss"]) for x in resid])
    model.diagnostics = {"observations": len(obs), "runs": len(runs), "rms_log_residual": float(np.sqrt((r**2).mean())), "residuals": resid}
    return model


# ---------------------------------------------------------------------------------------------
# Allocation


def allocate(model: ProportionLaw, N: float, D: float, weights: Mapping[str, float] | None = None, floor: float = 0.02) -> dict[str, Any]:
    """The proportions minimising sum_k w_k L_k(N, D, p) over p on the simplex with every
    p_k >= ``floor`` (a PL with no data has no finite predicted loss), against uniform."""
    from scipy.optimize import minimize

    langs = model.languages
    K = len(langs)
    w = np.array([float((weights or {}).get(k, 1.0)) for k in langs])
    if weights:
        unknown = sorted(set(weights) - set(langs))
        if unknown:
            raise ScalingError(f"weights: {', '.join(unknown)} not among the fitted PLs ({', '.join(langs)})")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ScalingError(f"weights must be finite, >= 0 and not all 0, got {dict(zip(langs, w.tolist()))}")
    w = w / w.sum()
    if not 0 <= floor < 1 / K:
        raise ScalingError(f"floor must be in [0, 1/{K}), got {floor}")
    if not (N > 0 and D > 0 and math.isfinite(N) and math.isfinite(D)):
        raise ScalingError(f"N and D must be finite positive numbers, got N={N!r}, D={D!r}")

    def objective(p):
        p = np.clip(p, 1e-9, None)
        losses = model.losses(N, D, p / p.sum())
        return float(sum(w[k] * losses[lang] for k, lang in enumerate(langs)))

    cons = [{"type": "eq", "fun": lambda p: p.sum() - 1.0}]
    best = None
    uniform = np.full(K, 1.0 / K)
    starts = [uniform] + [np.where(np.arange(K) == k, 0.6, 0.4 / (K - 1)) if K > 1 else uniform for k in range(K)]
    for s in starts:
        res = minimize(objective, s, method="SLSQP", bounds=[(max(floor, 1e-6), 1.0)] * K, constraints=cons)
        if res.success and (best is None or res.fun < best.fun):
            best = res
    p = best.x / best.x.sum() if best is not None else uniform
    prop = {k: float(v) for k, v in zip(langs, p)}
    uni = {k: 1.0 / K for k in langs}
    return {
        "N": float(N),
        "D": float(D),
        "weights": {k: float(v) for k, v in zip(langs, w)},
        "proportions": prop,
        "predicted": model.losses(N, D, p),
        "objective": objective(p),
        "uniform": {"proportions": uni, "predicted": model.losses(N, D, uniform), "objective": objective(uniform)},
    }


# ---------------------------------------------------------------------------------------------
# Data organisation


def organisation_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Held-out translation loss per direction, shuffle vs parallel runs of the same cell and
    proportions; a direction is "seen" when the parallel run paired those two PLs."""
    runs = [r for r in records if r.get("translation_loss")]
    out = []
    for par in (r for r in runs if r["organisation"] == "parallel"):
        for shu in (r for r in runs if r["organisation"] == "shuffle"):
            if (shu["size"], shu["budget_chars"]) != (par["size"], par["budget_chars"]):
                continue
            if any(abs(shu["proportions"].get(k, 0) - v) > 1e-6 for k, v in par["proportions"].items()):
                continue
            pairs = [frozenset(p) for p in par.get("parallel_pairs") or []]
            for direction, lp in sorted(par["translation_loss"].items()):
                if direction not in shu["translation_loss"]:
                    continue
                a, b = direction.split("->")
                seen = not pairs or frozenset((a, b)) in pairs
                ls = shu["translation_loss"][direction]
                out.append({"direction": direction, "seen": seen, "shuffle": ls, "parallel": lp, "change": lp - ls, "shuffle_run": shu["id"], "parallel_run": par["id"]})
    return out


# ---------------------------------------------------------------------------------------------
# Predictions, and the proportion law read back from fit.json


def predictions(fits: Mapping[str, LawFit]) -> dict[str, list[dict[str, float]]]:
    """Each law's prediction, with its bootstrap 95% interval, one step beyond the ladder:
    the largest model at twice the largest D, and a model 4x the largest at the largest D."""
    out = {}
    for lang, f in fits.items():
        n, d = max(f.N), max(f.D)
        rows = []
        for N, D in ((n, 2 * d), (4 * n, d)):
            p = f.predict(N, D)
            rows.append({"N": N, "D": D, "loss": float(p["loss"]), "low": float(p["low"]), "high": float(p["high"])})
        out[lang] = rows
    return out


def proportion_law_from_dict(data: Mapping[str, Any], laws: Mapping[str, Mapping[str, float]]) -> ProportionLaw:
    """Rebuild the proportion law from ``fit.json`` (for ``xpl scaling allocate``)."""
    langs = list(data["languages"])
    K = len(langs)
    c = np.zeros((K, K))
    for i, j in itertools.combinations(range(K), 2):
        c[i, j] = c[j, i] = data["pairs"][f"{langs[i]}+{langs[j]}"]["c"]
    return ProportionLaw(langs, {k: dict(laws[k]) for k in langs}, c)


def load_fit(path: str | Path) -> tuple[dict[str, Any], ProportionLaw]:
    p = Path(path)
    if not p.is_file():
        raise ScalingError(f"{p}: no such fit file (make it with `xpl scaling fit`)")
    data = json.loads(p.read_text())
    pl = data.get("proportion_law") or {}
    if "error" in pl or "pairs" not in pl:
        raise ScalingError(f"{p}: has no proportion law ({pl.get('error', 'not fitted')})")
    return data, proportion_law_from_dict(pl, {k: v["params"] for k, v in data["laws"].items()})
