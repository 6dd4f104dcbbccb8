"""Byte-level BPE tokenizers for tiny models, trained on the corpus with ``tokenizers``.

Byte-level means every string has an encoding (no unknown token), which matters for code:
a model must be able to write any character a PL allows. Special tokens: ``<pad>``,
``<s>`` (beginning of a document), ``</s>`` (end of a document or completion).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

PAD, BOS, EOS = "<pad>", "<s>", "</s>"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2, split_digits: bool = False):
    """A ``PreTrainedTokenizerFast`` with a byte-level BPE vocabulary learnt from ``texts``;
    ``split_digits``: every digit is a token of its own (no merges across digits), so a number
    reads as the same tokens wherever it stands."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 300:
        raise ValueError(f"vocab_size must be at least 300 (256 bytes + specials + merges), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    # Every newline is a token of its own. Prompts end with a newline and completions start
    # with indentation; if "\n" could merge with the spaces after it, the prompt would not be
    # a token prefix of prompt + completion, and a model trained on the merged form would
    # see a different context at generation time (and typically emit nothing).
    steps = [pre_tokenizers.Split("\n", behavior="isolated")]
    if split_digits:
        steps.append(pre_tokenizers.Digits(individual_digits=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([*steps, pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.model_max_length = 1 << 20  # the model's context, not the tokenizer, limits lengths
    return fast


def save_tokenizer(tokenizer, path: str | Path) -> None:
    tokenizer.save_pretrained(str(path))
