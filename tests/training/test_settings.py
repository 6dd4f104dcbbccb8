"""Trainer arguments xpl sets for every stage, whatever TRL's own defaults are."""

from xpl.training.common import TrainConfig


def test_activation_checkpointing_is_off_unless_asked(tmp_path):
    """TRL's SFT and GRPO configs turn activation checkpointing on by default (a third more
    compute per step, for memory a tiny model does not need); xpl's settings turn it off."""
    from trl import GRPOConfig, SFTConfig

    for cls in (SFTConfig, GRPOConfig):
        assert cls(output_dir=str(tmp_path), use_cpu=True, report_to="none").gradient_checkpointing  # TRL's default
        args = cls(**TrainConfig().trainer_kwargs(tmp_path))
        assert not args.gradient_checkpointing and not getattr(args, "activation_checkpointing", False)
        args = cls(**TrainConfig(activation_checkpointing=True).trainer_kwargs(tmp_path))
        assert args.gradient_checkpointing
