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


def test_library_noise_is_hidden_inside_xpl_stages_only(caplog):
    """The deprecation TRL and PEFT trigger once per GRPO step, and the Trainer's note on
    checkpoint mtimes, are dropped inside ``library_noise_filtered``; other warnings and log
    lines still show, and outside it nothing is filtered."""
    import logging
    import warnings

    from xpl.training.common import library_noise_filtered

    noise = "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` instead."

    def emit() -> list[str]:
        with warnings.catch_warnings(record=True) as seen:  # the filters in force, each warning shown once
            warnings.warn_explicit(noise, FutureWarning, "modeling_utils.py", 1, module="transformers.modeling_utils")
            warnings.warn_explicit(noise, FutureWarning, "elsewhere.py", 1, module="elsewhere")  # not transformers
            warnings.warn_explicit("another change", FutureWarning, "modeling_utils.py", 2, module="transformers.modeling_utils")
        return [f"{w.filename}: {w.message}" for w in seen]

    def log() -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="transformers.trainer_utils"):
            logging.getLogger("transformers.trainer_utils").warning("mtime may not be reliable on this filesystem, falling back to numerical ordering")
            logging.getLogger("transformers.trainer_utils").warning("something else")
        return [r.getMessage() for r in caplog.records]

    assert len(emit()) == 3 and len(log()) == 2
    with library_noise_filtered():
        assert emit() == [f"elsewhere.py: {noise}", "modeling_utils.py: another change"]
        assert log() == ["something else"]
    assert len(emit()) == 3 and len(log()) == 2

    @library_noise_filtered()
    def stage():
        return emit()

    assert len(stage()) == 2 and stage.__name__ == "stage"
