"""FLeX's Fourier regulariser on LoRA weights, with a gradient.

For every LoRA matrix W (each adapter's A and B), flattened row-major to w of length n:

    W_hat = rfft(w)                                  K = n // 2 + 1 frequency bins
    phi(k) = phi_low + (phi_high - phi_low) * min(1, k / (K * T))
    rho(k) = 1 - phi(k)
    penalty = mean over matrices of sum_k rho(k) |W_hat_k|^2
    loss = task loss + weight * penalty

With the defaults (phi_low 1.0, phi_high 0.1, T 0.5) the lowest frequency is free (rho 0)
and every bin from K*T up costs rho = 0.9: the adapters are pushed towards smooth, low-
frequency weights. The FLeX paper's code computes W_hat from detached weights, so its
penalty changes the logged loss and nothing else; here the FFT runs on the parameters
themselves and the gradient flows (``torch.fft.rfft`` is differentiable).

The FFT normalisation is torch's default (``norm="backward"``: no scaling), as the formula
reads: then sum_k |W_hat_k|^2 grows with the matrix's size (Parseval: about n/2 times its
squared norm), so on a 7B model's 4096-wide adapters the term is large against the task loss.
``norm="ortho"`` makes it size-independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xpl.training.common import ConfigError

NORMS = ("backward", "ortho", "forward")


@dataclass
class FourierConfig:
    weight: float = 0.02  # lambda
    threshold: float = 0.5  # T: the fraction of the spectrum over which phi ramps down
    phi_low: float = 1.0
    phi_high: float = 0.1
    norm: str = "backward"  # torch.fft's normalisation (see the module docstring)

    def validate(self, where: str = "fourier") -> None:
        if not self.weight >= 0:
            raise ConfigError(f"{where}.weight must be >= 0, got {self.weight!r}")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"{where}.threshold must be in (0, 1], got {self.threshold!r}")
        for name in ("phi_low", "phi_high"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{where}.{name} must be in [0, 1] (rho = 1 - phi is a weight), got {value!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"{where}.norm must be one of {', '.join(NORMS)}, got {self.norm!r}")


def frequency_weights(bins: int, settings: FourierConfig, device=None):
    """rho(k) for k = 0 .. bins-1 (a float32 tensor)."""
    import torch

    k = torch.arange(bins, dtype=torch.float32, device=device)
    ramp = torch.clamp(k / (bins * settings.threshold), max=1.0)
    phi = settings.phi_low + (settings.phi_high - settings.phi_low) * ramp
    return 1.0 - phi


def lora_matrices(model) -> list:
    """The trainable LoRA A and B weight matrices of a PEFT model (in module order)."""
    return [p for name, p in model.named_parameters() if p.requires_grad and (".lora_A." in name or ".lora_B." in name)]


def spectral_penalty(matrices: Iterable, settings: FourierConfig):
    """mean over ``matrices`` of sum_k rho(k) |rfft(flatten(W))_k|^2, differentiable."""
    import torch

    terms = []
    for w in matrices:
        spectrum = torch.fft.rfft(w.reshape(-1).float(), norm=settings.norm)
        rho = frequency_weights(spectrum.shape[0], settings, spectrum.device)
        terms.append((rho * spectrum.abs().square()).sum())
    if not terms:
        raise ValueError("the Fourier penalty needs LoRA matrices, and the model has none (is train.lora set?)")
    return torch.stack(terms).mean()


def high_frequency_energy(matrices: Iterable, threshold: float = 0.5) -> dict[str, float]:
    """How much of the LoRA weights' spectral energy sits at or above K*threshold, measured
    without gradient: ``energy`` is the mean over matrices of sum_{k >= K T} |W_hat_k|^2,
    ``fraction`` the mean over matrices of that energy over the matrix's total."""
    import torch

    energies, fractions = [], []
    with torch.no_grad():
        for w in matrices:
            power = torch.fft.rfft(w.detach().reshape(-1).float()).abs().square()
            start = int(torch.ceil(torch.tensor(power.shape[0] * threshold)))
            high = float(power[start:].sum())
            energies.append(high)
            fractions.append(high / max(float(power.sum()), 1e-30))
    if not energies:
        return {"energy": 0.0, "fraction": 0.0}
    return {"energy": sum(energies) / len(energies), "fraction": sum(fractions) / len(fractions)}
