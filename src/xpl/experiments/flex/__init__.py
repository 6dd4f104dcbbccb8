"""``xpl flex``: FLeX, does a Fourier-regularised LoRA fine-tuned on Python transfer better to
other PLs, and does Sophia reach the same loss in fewer steps than AdamW?

Stages (each resumable, skipped once finished; problems and the base model are the stages
every experiment on the family shares, ``xpl.experiments.stages``):

    problems/, base/                       the problem family and the pretrained tiny base
    seed<S>/<optimizer>/<arm>/             LoRA fine-tuning on the source PL (``flex_sft``):
                                           adapter/ (unmerged) and final/ (merged)
    seed<S>/eval/base/<pl>.json            the base model
    seed<S>/eval/<optimizer>/<arm>-<variant>/<pl>.json
                                           each fine-tuned model, with its adapter unmerged
                                           (base + PEFT adapter) and merged (a plain model)
    report.md, results.json, *.png         Table 2's shape with bootstrap CIs, loss curves

Arms: ``lora`` (plain LoRA) and ``lora_fourier`` (LoRA + the Fourier penalty); optimisers
``adamw`` and ``sophia``; every arm x optimiser shares the seed's adapter initialisation and
data order, so the differences are paired. Each model is measured two ways on held-out
problems per PL: pass@1 (sampled completions run against the tests) and the held-out loss
(mean nats per token of the reference solution given the prompt, per problem); the loss
moves long before a tiny model passes tests, so it is the sensitive measure of transfer here.

Steps to target loss: per seed and arm, the target is the higher of AdamW's and Sophia's
final validation loss on the source PL (a loss both reached); each optimiser's count is the
first evaluation step at which its validation loss was at or below it.

The experiment in three modules, as the Parallel-SFT one: ``config`` (the YAML sections, their
checks, ``--quick``), ``pipeline`` (the stages, ``run_flex``) and ``report`` (``results.json``,
``report.md``, the plots).
"""

from xpl.experiments.flex.config import FlexExperimentConfig, load_flex, quick
from xpl.experiments.flex.pipeline import run_flex

__all__ = ["FlexExperimentConfig", "load_flex", "quick", "run_flex"]
