"""SophiaG (Liu et al. 2023) inside the Hugging Face Trainer.

The update (``sophia-opt``, a faithful copy of the authors' SophiaG):

    m <- b1 m + (1 - b1) g
    every k steps: h <- b2 h + (1 - b2) g_hat * g_hat
    p <- p - lr * sign(m) * min(|m| / (rho * bs * h + eps), 1)      (plus decoupled weight decay)

where g_hat is the gradient of the *mean* loss on labels sampled from the model's own
logits (the Gauss-Newton-Bartlett estimator of the Hessian's diagonal, up to the factor
``bs``) and ``bs`` is the number of tokens that mean is over. The package gives the
optimiser only; two things the Trainer never does are done here:

* ``SophiaG.step`` is called by the Trainer with no arguments, so ``bs`` would stay at the
  package's default of 5120 whatever the batch. ``XplSophiaG`` reads the batch's token count
  from ``batch_tokens``, which the trainer sets before each step (the completion tokens
  that carry the loss, summed over gradient accumulation).
* nothing calls ``update_hessian()``. ``refresh_hessian`` does it: a forward pass on the
  current batch, labels sampled from the logits (``torch.distributions.Categorical``), the
  loss on them, backward, ``update_hessian()``, gradients cleared. The trainer calls it on
  the first micro-batch of every k-th optimiser step (steps 0, k, 2k, ...: the first step
  already has an estimate, where the authors' loop leaves h = 0 for its first k - 1 steps).

After each step the optimiser records the fraction of coordinates whose update was clipped
(|m| >= rho * bs * h + eps, i.e. the step was lr * sign(m)); the authors tune rho so that
this stays between 0.1 and 0.5. It is logged as ``sophia_clip_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xpl.training.common import ConfigError

EPS = 1e-15  # sophia-opt's epsilon in the ratio's denominator


@dataclass
class SophiaConfig:
    rho: float = 0.04
    betas: tuple[float, float] = (0.965, 0.99)
    hessian_interval: int = 10  # k: refresh the Hessian estimate every k optimiser steps

    def validate(self, where: str = "sophia") -> None:
        if not self.rho > 0:
            raise ConfigError(f"{where}.rho must be > 0, got {self.rho!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"{where}.betas must be two numbers in [0, 1), got {list(self.betas)!r}")
        if isinstance(self.hessian_interval, bool) or not isinstance(self.hessian_interval, int) or self.hessian_interval < 1:
            raise ConfigError(f"{where}.hessian_interval must be an integer >= 1, got {self.hessian_interval!r}")


def sophia_class():
    """``XplSophiaG`` (defined lazily: the base class comes from the optional package)."""
    global _CLASS
    if _CLASS is None:
        try:
            from sophia_opt import SophiaG
        except ModuleNotFoundError:
            raise ConfigError("optimizer sophia needs the sophia-opt package: pip install 'xpl[sophia]' (or sophia-opt)") from None
        _CLASS = _define(SophiaG)
    return _CLASS


_CLASS = None


def _define(base):
    class XplSophiaG(base):
        """SophiaG whose ``step()`` takes ``bs`` from ``batch_tokens`` and records the
        clipped fraction and the steps at which the Hessian estimate was refreshed."""

        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            self.batch_tokens: int | None = None
            self.last_bs: int | None = None
            self.last_clip_fraction: float | None = None
            self.hessian_steps: list[int] = []  # optimiser steps whose Hessian was refreshed

        def step(self, closure=None, bs=None):
            if bs is None:
                if self.batch_tokens is None:
                    raise RuntimeError("XplSophiaG.step: set batch_tokens (the batch's token count) before stepping")
                bs = self.batch_tokens
            self.last_bs = int(bs)
            loss = super().step(closure, bs=bs)
            self.last_clip_fraction = clipped_fraction(self, bs)
            return loss

        # Checkpoints carry the optimiser's state dict: the Hessian estimate and momentum are
        # restored on resume by the Trainer, as for any optimiser.

    return XplSophiaG


def clipped_fraction(optimizer, bs: float) -> float:
    """Fraction of coordinates at which Sophia's ratio |m| / (rho * bs * h + eps) reaches 1
    (the update is clipped to lr * sign(m)), from the optimiser's current state."""
    import torch

    clipped, total = 0, 0
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                state = optimizer.state.get(p)
                if not state or "exp_avg" not in state:
                    continue
                ratio = state["exp_avg"].abs() / (group["rho"] * bs * state["hessian"] + EPS)
                clipped += int((ratio >= 1).sum())
                total += ratio.numel()
    return clipped / total if total else 0.0


def unwrap(optimizer):
    """The optimiser itself under accelerate's ``AcceleratedOptimizer`` wrapper."""
    while hasattr(optimizer, "optimizer") and not hasattr(optimizer, "update_hessian"):
        optimizer = optimizer.optimizer
    return optimizer


def refresh_hessian(model, inputs: dict, optimizer, step: int) -> None:
    """One Gauss-Newton-Bartlett estimate on this batch: sample labels from the model's
    logits at the positions that carry the training loss, backward the mean loss on them,
    fold the squared gradient into h (``update_hessian``), and clear the gradients so the
    real gradient of this step starts from zero."""
    import torch
    import torch.nn.functional as F

    labels = inputs["labels"]
    forward = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}
    logits = model(**forward).logits[:, :-1]
    keep = labels[:, 1:] != -100  # the positions the task loss is over (completion tokens)
    picked = logits[keep].float()
    if picked.shape[0] == 0:
        return
    with torch.no_grad():
        sampled = torch.distributions.Categorical(logits=picked).sample()
    loss = F.cross_entropy(picked, sampled)  # mean over the batch's tokens, as in the authors' loop
    loss.backward()
    optimizer.update_hessian()
    optimizer.hessian_steps.append(step)
    optimizer.zero_grad(set_to_none=True)


def label_tokens(inputs: dict) -> int:
    """Tokens that carry the loss in a causal-LM batch (labels are shifted by one)."""
    return int((inputs["labels"][:, 1:] != -100).sum())


def optimizer_kwargs(settings: SophiaConfig, learning_rate: float) -> dict:
    return {"lr": learning_rate, "betas": tuple(settings.betas), "rho": settings.rho}

