"""``xpl bts``: Branch-Train-Stitch (arXiv 2502.00075). Can experts continually pretrained on
one PL (or PL group) each be combined, frozen, so that the combined model keeps every
expert's PL?

Stages (each resumable, skipped once finished): the problems and the seed (the stages every
experiment on the family shares), the training pool, one expert per configured PL group
(continual pretraining of the seed), BTS's stitch layers for each K (only they train; the
seed is the hub, the experts the spokes), BTX's routers (the same data and steps), then the
evaluation of every model (seed, each expert, soup, BTX, BTM, BTS per K, and BTS with each
expert removed without retraining): held-out loss and greedy pass@1 per PL with bootstrap
CIs, and the stitch gates per layer and PL. The model code is ``xpl.models.stitch``, the
training loop ``xpl.training.bts``.

Three modules, as the other experiments: ``config`` (the YAML sections, their checks,
``--quick``), ``pipeline`` (the stages, ``run_bts``) and ``report``.
"""

from xpl.experiments.bts.config import BTSExperimentConfig, load_bts, quick
from xpl.experiments.bts.pipeline import run_bts

__all__ = ["BTSExperimentConfig", "load_bts", "quick", "run_bts"]
