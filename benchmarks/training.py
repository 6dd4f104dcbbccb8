"""Training overheads: (a) SFT through TRL against a plain PyTorch loop, (b) the reward share
of a GRPO step.

(a) SFT throughput. A tiny Llama model (preset ``s``) with a byte-level BPE tokenizer trained
    on the Python corpus is fine-tuned on family problems (prompt -> Python solution, loss on
    completion tokens only) twice from the same initial weights:

    * by ``xpl.training.sft`` (TRL's ``SFTTrainer``, the code the experiments run);
    * by a plain loop: ``torch.optim.AdamW`` (the implementation the Trainer picked), the same
      learning rate, constant schedule, gradient clipping at 1.0, and the *same batches*: the
      SFT trainer's own tokenisation and data order, each batch right-padded to its longest
      sequence on the fly, loss ``model(input_ids, attention_mask, labels).loss`` with the
      prompt and padding masked out of the labels.

    Both start from the same weights and see the same batches, so the losses they log must
    agree (checked and printed): the comparison is of the same computation. Throughput is
    tokens (non-padding) per second over steps 2..N (step 1 pays one-off costs on both sides),
    on the wall clock and on the process's CPU time. ``--repeat`` alternates the two loops and
    times each step by its fastest run (the machine is shared).

(b) GRPO reward share. ``xpl.training.grpo`` (TRL's ``GRPOTrainer``, group size 8, batch 16,
    160 new tokens at most) from the SFT model of (a); every completion is run by the execution
    engine. The stage records ``reward_seconds`` and ``reward_share`` (reward time over the
    whole stage, set-up included); the steady-state share per step is measured here too, from
    the timed reward calls between the ends of consecutive steps.

Run:  .venv/bin/python benchmarks/training.py [--steps 60] [--repeat 3] [--grpo-steps 6] [--markdown out.md] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def make_base(work: Path, problems, preset: str, vocab_size: int, max_positions: int) -> Path:
    """A freshly initialised tiny model and its tokenizer, saved as a model folder."""
    from xpl.corpus import pretraining_corpus
    from xpl.models.tiny import build_tiny
    from xpl.models.tokenizer import train_tokenizer

    docs = pretraining_corpus(problems, {"python": 1.0}, 300_000)
    tokenizer = train_tokenizer([d.text for d in docs], vocab_size)
    model = build_tiny(tokenizer, preset, seed=0, max_positions=max_positions)
    folder = work / "base"
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def sft_settings(steps: int, batch_size: int):
    from xpl.training.common import TrainConfig

    # Constant learning rate, no checkpoint inside the measured steps, xpl's logging cadence.
    return TrainConfig(
        learning_rate=5e-4,
        batch_size=batch_size,
        max_steps=steps,
        scheduler="constant",
        save_steps=10 * steps,
        logging_steps=10,
    )


def trainer_batches(base: Path, problems, settings, work: Path):
    """The batches the SFT trainer trains on, in its order: per batch, the unpadded token ids
    and completion masks of its sequences, plus the optimiser the Trainer chose."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer

    from xpl.corpus import sft_mixture
    from xpl.models.loading import load_model

    examples = sft_mixture(problems, ["python"])
    dataset = Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in examples])
    model, tokenizer = load_model(base)
    args = TRLConfig(
        **settings.trainer_kwargs(work / "batches"),
        max_length=settings.max_length,
        completion_only_loss=True,
        packing=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    set_seed(args.seed)  # what Trainer.train does before it builds its data loader
    batches = []
    loader = iter(trainer.get_train_dataloader())
    while len(batches) < settings.max_steps:
        try:
            batch = next(loader)
        except StopIteration:  # a further epoch
            loader = iter(trainer.get_train_dataloader())
            continue
        rows = []
        for ids, mask, labels in zip(batch["input_ids"], batch["attention_mask"], batch["labels"]):
            n = int(mask.sum())
            rows.append((ids[:n].tolist(), (labels[:n] != -100).tolist()))
        batches.append((rows, tuple(batch["input_ids"].shape)))
    return batches, getattr(args.optim, "value", str(args.optim)), tokenizer.pad_token_id


def run_sft(base: Path, problems, settings, out: Path) -> dict:
    """``xpl.training.sft``, timing the end of every step."""
    from xpl.training.sft import SFTConfig, sft

    ends: list[tuple[float, float]] = []

    def report(step: int, total: int, logs) -> None:
        if logs is None:
            ends.append((time.perf_counter(), time.process_time()))

    started = time.perf_counter()
    record = sft(base, problems, SFTConfig(languages=["python"], train=settings), out, report=report)
    return {
        "ends": ends,
        "losses": [r["loss"] for r in record["train_loss"]],
        "stage_seconds": time.perf_counter() - started,
    }


def run_plain(base: Path, batches, settings, optim: str, pad_id: int) -> dict:
    """The plain PyTorch loop over the same batches, same optimiser settings."""
    import torch

    from xpl.models.loading import load_model

    model, _ = load_model(base)
    model.train()
    torch.manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
        fused=optim == "adamw_torch_fused",
    )
    if optim not in ("adamw_torch", "adamw_torch_fused"):
        raise SystemExit(f"the Trainer chose {optim}; this loop reproduces adamw_torch(_fused) only")
    ends, losses, window = [], [], []
    for step, (rows, shape) in enumerate(batches, 1):
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, (ids, keep) in enumerate(rows):
            t = torch.tensor(ids)
            input_ids[i, : len(ids)] = t
            attention[i, : len(ids)] = 1
            labels[i, : len(ids)] = torch.where(torch.tensor(keep), t, torch.tensor(-100))
        assert tuple(input_ids.shape) == shape, (input_ids.shape, shape)  # the trainer's padding
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(float(loss))
        if step == 1 or step % settings.logging_steps == 0:  # logged like the Trainer: mean since the last log
            losses.append(sum(window) / len(window))
            window = []
        ends.append((time.perf_counter(), time.process_time()))
    return {"ends": ends, "losses": losses}


def step_times(ends: list[tuple[float, float]], clock: int) -> list[float]:
    """Durations of steps 2..N on one clock (0: wall, 1: this process's CPU time)."""
    return [b[clock] - a[clock] for a, b in zip(ends, ends[1:])]


def best_rate(runs: list[dict], tokens: list[int], clock: int) -> float:
    """Tokens per second over steps 2..N, each step timed by its fastest run: the machine is
    shared, and the least disturbed run of a step is the closest to its undisturbed time."""
    per_step = [min(times) for times in zip(*(step_times(r["ends"], clock) for r in runs))]
    return sum(tokens[1:]) / sum(per_step)


def bench_sft(work: Path, problems, steps: int, batch_size: int, repeat: int, preset: str) -> dict:
    base = make_base(work, problems, preset, vocab_size=2048, max_positions=512)
    settings = sft_settings(steps, batch_size)
    batches, optim, pad_id = trainer_batches(base, problems, settings, work)
    tokens = [sum(len(ids) for ids, _ in rows) for rows, _ in batches]
    padded = [shape[0] * shape[1] for _, shape in batches]
    completion = [sum(sum(keep) for _, keep in rows) for rows, _ in batches]
    sft_runs, plain_runs = [], []
    for r in range(repeat):  # alternating, so that a busy spell of the machine hits both
        sft_runs.append(run_sft(base, problems, settings, work / f"sft-{r}"))
        plain_runs.append(run_plain(base, batches, settings, optim, pad_id))
        rates = [sum(tokens[1:]) / sum(step_times(x["ends"], 0)) for x in (sft_runs[-1], plain_runs[-1])]
        print(f"  run {r + 1}: sft {rates[0]:,.0f} tok/s, plain {rates[1]:,.0f} tok/s (wall clock)", file=sys.stderr)
    from xpl.models.loading import load_model
    from xpl.models.tiny import count_parameters

    out = {
        "preset": preset,
        "parameters": count_parameters(load_model(base)[0]),
        "steps": steps,
        "batch_size": batch_size,
        "repeat": repeat,
        "optimizer": optim,
        "settings": {k: v for k, v in settings.trainer_kwargs(work).items() if k != "output_dir"},
        "tokens_per_step": sum(tokens) / len(tokens),
        "padded_tokens_per_step": sum(padded) / len(padded),
        "completion_tokens_per_step": sum(completion) / len(completion),
        "sft_stage_seconds": sft_runs[-1]["stage_seconds"],
        "sft_losses": sft_runs[-1]["losses"],
        "plain_losses": plain_runs[-1]["losses"],
        "max_loss_gap": max(abs(a - b) for a, b in zip(sft_runs[-1]["losses"], plain_runs[-1]["losses"])),
        "sft_model": str(work / f"sft-{repeat - 1}" / "final"),
    }
    for clock, name in ((0, "wall"), (1, "cpu")):
        out[f"sft_tokens_per_s_{name}"] = best_rate(sft_runs, tokens, clock)
        out[f"plain_tokens_per_s_{name}"] = best_rate(plain_runs, tokens, clock)
        out[f"slowdown_{name}"] = out[f"plain_tokens_per_s_{name}"] / out[f"sft_tokens_per_s_{name}"]
    return out


def bench_grpo(work: Path, model_dir: Path, problems, steps: int, group: int, batch_size: int, max_new: int) -> dict:
    import xpl.training.grpo as grpo_module
    from xpl.training.common import TrainConfig

    calls: list[tuple[float, float]] = []
    original = grpo_module.ExecutionReward

    class TimedReward(original):
        def __call__(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super().__call__(*args, **kwargs)
            finally:
                calls.append((start, time.perf_counter()))

    ends: list[float] = []

    def report(step: int, total: int, logs) -> None:
        if logs is None:
            ends.append(time.perf_counter())

    config = grpo_module.GRPOConfig(
        num_generations=group,
        max_completion_length=max_new,
        train=TrainConfig(
            learning_rate=5e-5, batch_size=batch_size, max_steps=steps, save_steps=10 * steps, logging_steps=1
        ),
    )
    grpo_module.ExecutionReward = TimedReward
    try:
        record = grpo_module.grpo(model_dir, problems, config, work / "grpo", report=report)
    finally:
        grpo_module.ExecutionReward = original
    per_step = []
    for before, after in zip(ends, ends[1:]):
        inside = sum(e - s for s, e in calls if before < s < after)
        per_step.append(inside / (after - before))
    return {
        "steps": record["steps"],
        "group": group,
        "batch_size": batch_size,
        "max_completion_length": max_new,
        "completions_scored": batch_size * steps,
        "reward_calls": len(calls),
        "reward_seconds": record["reward_seconds"],
        "stage_seconds": record["seconds"],
        "reward_share": record["reward_share"],
        "step_seconds": [round(b - a, 2) for a, b in zip(ends, ends[1:])],
        "steady_reward_share": sum(per_step) / len(per_step) if per_step else None,
        "mean_reward": sum(r["reward"] for r in record["reward_curve"]) / max(len(record["reward_curve"]), 1),
    }


def markdown(sft: dict, grpo: dict | None, load: tuple[float, float, float]) -> str:
    lines = [
        f"SFT: tiny Llama preset `{sft['preset']}` ({sft['parameters']:,} parameters), batch {sft['batch_size']}, "
        f"{sft['steps']} steps, {sft['tokens_per_step']:.0f} tokens per step ({sft['padded_tokens_per_step']:.0f} with padding, "
        f"{sft['completion_tokens_per_step']:.0f} in the loss), `{sft['optimizer']}`, fp32, {sft['repeat']} alternating runs "
        f"of each loop, each step timed by its fastest run; {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start.",
        "",
        "| loop | tokens/s (wall clock) | tokens/s (process CPU time) |",
        "|---|---:|---:|",
        f"| plain PyTorch loop (same batches) | {sft['plain_tokens_per_s_wall']:,.0f} | {sft['plain_tokens_per_s_cpu']:,.0f} |",
        f"| xpl.training.sft (TRL SFTTrainer) | {sft['sft_tokens_per_s_wall']:,.0f} | {sft['sft_tokens_per_s_cpu']:,.0f} |",
        f"| **SFT time / plain time** (target <= 1.2) | **{sft['slowdown_wall']:.2f}** | **{sft['slowdown_cpu']:.2f}** |",
        "",
        f"Logged losses agree to {sft['max_loss_gap']:.2g} (SFT {', '.join(f'{x:.4f}' for x in sft['sft_losses'])}; "
        f"plain {', '.join(f'{x:.4f}' for x in sft['plain_losses'])}): the two loops do the same computation. "
        f"The whole SFT stage (loading, tokenising, {sft['steps']} steps, saving) took {sft['sft_stage_seconds']:.1f} s.",
    ]
    if grpo:
        lines += [
            "",
            f"GRPO: group {grpo['group']}, batch {grpo['batch_size']}, {grpo['steps']} steps, at most "
            f"{grpo['max_completion_length']} new tokens, {grpo['completions_scored']} completions scored in "
            f"{grpo['reward_calls']} engine calls; mean reward {grpo['mean_reward']:.3f}.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| reward seconds (whole stage) | {grpo['reward_seconds']:.2f} |",
            f"| stage seconds | {grpo['stage_seconds']:.1f} |",
            f"| `reward_share` recorded by the stage | {100 * grpo['reward_share']:.1f}% |",
            f"| reward share of a step (steady state, mean of steps 2..{grpo['steps']}) | {100 * grpo['steady_reward_share']:.1f}% |",
            f"| seconds per step (steps 2..{grpo['steps']}) | {', '.join(f'{x:.1f}' for x in grpo['step_seconds'])} |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="SFT steps per run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating runs of each SFT loop; each step's fastest counts"
    )
    parser.add_argument("--preset", default="s")
    parser.add_argument("--problems", type=int, default=1200, help="family problems to generate (80%% train)")
    parser.add_argument("--grpo-steps", type=int, default=6, help="0 skips the GRPO measurement")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()

    from xpl.training.common import limit_threads

    limit_threads()
    from xpl.problems.family import build

    load = os.getloadavg()
    problems = build(args.problems, 0, languages=["python"], check=False).split("train")
    with tempfile.TemporaryDirectory(prefix="xpl-bench-training-") as tmp:
        work = Path(tmp)
        print(f"SFT: {len(problems)} problems, {args.steps} steps x {args.repeat}", file=sys.stderr)
        sft = bench_sft(work, problems, args.steps, args.batch_size, args.repeat, args.preset)
        grpo = None
        if args.grpo_steps > 0:
            print(f"GRPO: {args.grpo_steps} steps", file=sys.stderr)
            grpo = bench_grpo(
                work, Path(sft["sft_model"]), problems, args.grpo_steps, group=8, batch_size=16, max_new=160
            )
    text = markdown(sft, grpo, load)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"sft": sft, "grpo": grpo, "load": load}, indent=1) + "\n")


if __name__ == "__main__":
    main()
