"""Does each training stage do what it is for, on a tiny model and the built-in family?

    .venv/bin/python benchmarks/training_effect.py [--work runs/training-effect] [--markdown out.md]

One chain, every stage resumable (rerun the command after an interruption):

1. problems: ``--n`` family problems of ``--levels``, verified in Python, split train/test;
2. pretraining: a tiny Llama (``--preset``) on the train problems' Python programs; held-out
   loss before and after;
3. SFT on the train problems (prompt -> Python solution);
4. GRPO on the train problems with fraction-of-tests rewards, and a fixed probe set of train
   problems sampled before and after (the training curve alone moves with the prompts each
   step happens to draw). ``--grpo-problems N`` trains on the first N train problems only, the
   probe set itself: the probe is then the reward over the problems GRPO trains on;
   ``--grpo-mixed`` on the train problems the SFT model passes sometimes but not always (8
   samples at GRPO's temperature; a group whose completions all pass, or all fail, has no
   advantage to learn from);
5. Python pass@1 of the pretrained, SFT and GRPO models on every held-out problem
   (``--samples`` samples each).

``--base organism`` starts from the shipped organism instead (no pretraining): the problems
are then the default experiment's (the set its pretraining pool was cleaned against), and SFT
and GRPO take the default experiment's settings unless an option says otherwise, GRPO's
problems included (its ``rl_problems.file``, the RL problems shipped beside the organism;
``--grpo-train`` for the train problems).

Intervals: percentile bootstrap over problems (one seed), paired for differences
(``xpl.analysis.stats``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def evaluate_model(model_dir: Path, problems, samples: int, out: Path) -> list[float]:
    """Per-problem pass@1 (fraction of samples passing), cached in ``out``."""
    if out.is_file():
        return json.loads(out.read_text())["per_problem"]
    from xpl.execution import Engine
    from xpl.models.generation import SamplingConfig, evaluate, sample_problems
    from xpl.models.loading import load_model

    model, tokenizer = load_model(model_dir)
    completions = sample_problems(
        model, tokenizer, problems, "python", SamplingConfig(samples, 0.2, 0.95, 128, 64, seed=0)
    )
    engine = Engine()
    try:
        result = evaluate(problems, "python", completions, engine)
    finally:
        engine.close()
    per_problem = result.per_problem()
    out.write_text(
        json.dumps({"model": str(model_dir), "per_problem": per_problem, "completions": result.completions}) + "\n"
    )
    return per_problem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/training-effect"))
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--base", choices=["tiny", "organism"], default="tiny", help="pretrain a tiny model here, or start from the shipped organism")
    ap.add_argument("--preset", default="s")
    ap.add_argument("--pretrain-epochs", type=float, default=4)
    ap.add_argument("--sft-epochs", type=float, default=None, help="SFT epochs (default: 3; the default experiment's with --base organism)")
    ap.add_argument("--grpo-steps", type=int, default=None, help="GRPO steps (default: 40; the default experiment's with --base organism)")
    ap.add_argument(
        "--grpo-lr", type=float, default=None, help="GRPO learning rate (default: the default experiment's)"
    )
    ap.add_argument("--grpo-prompts", type=int, default=None, help="prompts per GRPO step, x 8 completions each (default: 4; the default experiment's with --base organism)")
    ap.add_argument("--grpo-reward", choices=["pass", "fraction"], default=None, help="default: fraction; the default experiment's with --base organism")
    ap.add_argument(
        "--grpo-temperature",
        type=float,
        default=None,
        help="GRPO sampling temperature (default: the default experiment's)",
    )
    ap.add_argument(
        "--grpo-problems",
        type=int,
        default=None,
        help="run GRPO on only the first N train problems, the probe set (default: all train problems)",
    )
    ap.add_argument("--grpo-mixed", action="store_true", help="run GRPO on the train problems the SFT model passes sometimes but not always")
    ap.add_argument(
        "--grpo-pool",
        type=Path,
        help="run GRPO on these problems (JSONL) instead of the train split, e.g. `xpl problems generate --exclude "
        "WORK/problems/test.jsonl`; with --grpo-mixed, on those of them the SFT model passes sometimes",
    )
    ap.add_argument(
        "--grpo-train",
        action="store_true",
        help="with --base organism: GRPO on the train split (the SFT problems) rather than the default experiment's RL problems (rl_problems.file)",
    )
    ap.add_argument("--grpo-beta", type=float, default=None, help="GRPO's KL penalty to the SFT model (default: the default experiment's, 0)")
    ap.add_argument("--grpo-generations", type=int, default=8, help="completions per prompt, the GRPO group (default: 8)")
    ap.add_argument("--grpo-seed", type=int, default=None, help="GRPO's seed (default: the default experiment's)")
    ap.add_argument("--probe", type=int, default=64, help="train problems in the GRPO probe set")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument(
        "--plot", type=Path, help="PNG of GRPO's reward per step and probe, for every seed of this GRPO setting"
    )
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if sum(map(bool, (args.grpo_pool, args.grpo_problems, args.grpo_train))) > 1:
        ap.error("--grpo-pool, --grpo-problems and --grpo-train each choose GRPO's problems: give one")
    if args.grpo_generations < 2:
        ap.error(f"--grpo-generations must be at least 2 (GRPO compares completions within a group), got {args.grpo_generations}")

    import numpy as np

    from xpl.analysis.stats import bootstrap, bootstrap_difference
    from xpl.experiments.spec import load_experiment
    from xpl.experiments.stages import organism_clean, silent, stage_problems
    from xpl.models.loading import organism_folder, organism_manifest
    from xpl.problems import read_problems
    from xpl.problems.family import build
    from xpl.training.common import limit_threads, mark_done, stage_done
    from xpl.training.grpo import grpo
    from xpl.training.pretrain import pretrain
    from xpl.training.sft import sft

    limit_threads()
    work = args.work
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name, fn, *a, **k):
        t = time.perf_counter()
        value = fn(*a, **k)
        timings[name] = round(time.perf_counter() - t, 1)
        print(f"{name}: {timings[name]} s", flush=True)
        return value

    default = load_experiment()  # the embedded default's stage settings, Python only here
    organism = args.base == "organism"
    if organism:  # the problem set the organism's pretraining pool was cleaned against
        if not organism_clean(default.problems, organism_manifest()):
            raise SystemExit("training_effect: the default experiment's problems are not the set the organism was cleaned against")
        train, test = timed("problems", stage_problems, default, work, silent)
        test = [p for p in test if "python" in p.solutions]
    else:
        folder = work / "problems"
        if not stage_done(folder):
            built = timed("problems", build, args.n, 0, folder, ["python"], 0.2, tuple(args.levels))
            mark_done(folder, {"stage": "problems", "kept": len(built.problems)})
        train, _ = read_problems(folder / "train.jsonl")
        test, _ = read_problems(folder / "test.jsonl")

    if organism:
        base = organism_folder()
        pretrained = organism_manifest()  # its steps and held-out losses, from `make organism`
    else:
        pre = default.pretrain
        pre.proportions, pre.preset = {"python": 1.0}, args.preset
        pre.train = replace(pre.train, epochs=args.pretrain_epochs)
        pretrained = timed("pretrain", pretrain, train, test, pre, work / "base")
        base = Path(pretrained["model"])

    sft_config = default.sft
    if args.sft_epochs is not None or not organism:
        sft_config.train = replace(sft_config.train, epochs=args.sft_epochs or 3)
    tuned = Path(timed("sft", sft, base, train, sft_config, work / "sft")["model"])

    rl = default.grpo
    rl.probe_problems = args.probe
    if args.grpo_reward or not organism:
        rl.reward = args.grpo_reward or "fraction"
    rl.num_generations = args.grpo_generations
    prompts = args.grpo_prompts or (rl.train.batch_size // args.grpo_generations if organism else 4)
    steps = args.grpo_steps or (rl.train.max_steps if organism else 40)
    rl.train = replace(rl.train, max_steps=steps, batch_size=args.grpo_generations * prompts, save_steps=10)
    if args.grpo_beta is not None:
        rl.beta = args.grpo_beta
    if args.grpo_lr:
        rl.train = replace(rl.train, learning_rate=args.grpo_lr)
    if args.grpo_temperature:
        rl.temperature = args.grpo_temperature
    if args.grpo_seed is not None:
        rl.train = replace(rl.train, seed=args.grpo_seed)
    # Each GRPO setting gets its own folder, so several can be compared from one SFT model.
    grpo_name = "grpo"
    if args.grpo_steps or args.grpo_lr:
        grpo_name += f"-s{steps}-lr{rl.train.learning_rate:g}"
    if args.grpo_prompts and args.grpo_prompts != 4:
        grpo_name += f"-p{args.grpo_prompts}"
    if args.grpo_reward:
        grpo_name += f"-{args.grpo_reward}"
    if args.grpo_temperature:
        grpo_name += f"-t{rl.temperature:g}"
    if args.grpo_beta:
        grpo_name += f"-beta{rl.beta:g}"
    if args.grpo_generations != 8:
        grpo_name += f"-g{args.grpo_generations}"
    if args.grpo_seed is not None:
        grpo_name += f"-seed{args.grpo_seed}"
    rl_problems = train
    shipped_pool = organism and not args.grpo_pool and not args.grpo_problems and not args.grpo_train and default.rl_problems.file
    if shipped_pool:  # the default experiment's RL problems (rl_problems.file)
        from xpl.experiments.spec import rl_problems_path

        rl_problems, _ = read_problems(rl_problems_path(default.rl_problems.file))
        grpo_name += f"-rl-{default.rl_problems.file}"
    if args.grpo_pool:
        rl_problems, bad = read_problems(args.grpo_pool)
        if bad or not rl_problems:
            raise SystemExit(f"training_effect: --grpo-pool {args.grpo_pool}: {bad[0] if bad else 'no problems'}")
        held_out = {p.name for p in test} | {p.prompt for p in test}
        clash = [p.name for p in rl_problems if p.name in held_out or p.prompt in held_out]
        if clash:
            raise SystemExit(f"training_effect: --grpo-pool {args.grpo_pool} holds held-out problems ({', '.join(clash[:3])}); generate it with --exclude")
        grpo_name += f"-pool-{args.grpo_pool.parent.name or args.grpo_pool.stem}"
    if args.grpo_problems:
        # RL on a small fixed set, seen many times: the probe (its first problems) is then the
        # reward over the problems GRPO trains on, as a training curve on a fixed set would be.
        rl_problems = train[: args.grpo_problems]
        rl.probe_problems = min(args.probe, args.grpo_problems)
        grpo_name += f"-n{args.grpo_problems}"
    elif args.grpo_mixed:  # GRPO's own pool filter: the probe is then drawn from the mixed pool
        rl.pool = "mixed"
        grpo_name += "-mixed"
    rl_record = timed("grpo", grpo, tuned, rl_problems, rl, work / grpo_name)
    rl_model = Path(rl_record["model"])

    scores = {}
    for name, model_dir, cache in (
        ("pretrained", base, "pretrained"),
        ("sft", tuned, "sft"),
        ("grpo", rl_model, grpo_name),
    ):
        scores[name] = np.array(
            [timed(f"eval {name}", evaluate_model, model_dir, test, args.samples, work / f"eval_{cache}.json")]
        )

    def est(e) -> dict:
        return {k: round(v, 4) for k, v in e.to_dict().items()}

    probe = rl_record["probe"]
    curve = [r["reward"] for r in rl_record["reward_curve"]]
    quarter = max(1, len(curve) // 4)
    results = {
        "base": args.base,
        "problems": {"train": len(train), "test": len(test), "levels": default.problems.levels if organism else args.levels},
        "heldout_loss": {
            "before": pretrained["heldout_loss_before"]["python"],
            "after": pretrained["heldout_loss_after"]["python"],
        },
        "pass_at_1": {name: est(bootstrap(s)) for name, s in scores.items()},
        "sft_minus_pretrained": est(bootstrap_difference(scores["sft"], scores["pretrained"])),
        "grpo_minus_sft": est(bootstrap_difference(scores["grpo"], scores["sft"])),
        "grpo_changed": changed_by_template(test, scores["sft"][0], scores["grpo"][0]),
        "probe": {
            "problems": probe["problems"],
            "before": probe["reward_before"],
            "after": probe["reward_after"],
            "after_minus_before": est(
                bootstrap_difference(np.array([probe["per_problem_after"]]), np.array([probe["per_problem_before"]]))
            ),
        },
        "reward_curve": {
            "steps": len(curve),
            "first_quarter": round(float(np.mean(curve[:quarter])), 4),
            "last_quarter": round(float(np.mean(curve[-quarter:])), 4),
        },
        "steps": {
            "pretrain": pretrained["steps"],
            "sft": json.loads((work / "sft" / "stage.json").read_text())["steps"],
            "grpo": rl_record["steps"],
        },
        "grpo_learning_rate": rl.train.learning_rate,
        "grpo": {
            "problems": rl_record["problems"],
            "pool": rl_record.get("pool"),
            "pool_file": str(args.grpo_pool) if args.grpo_pool else (f"rl_problems.file {default.rl_problems.file}" if shipped_pool else None),
            "group": rl.num_generations,
            "beta": rl.beta,
            "reward": rl.reward,
            "prompts_per_step": prompts,
            "temperature": rl.temperature,
            "seed": rl.train.seed,
        },
        "timings_s": timings,
        "wall_s": round(time.perf_counter() - started, 1),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    text = markdown(results)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot:
        plot_grpo(work, grpo_name, args.plot)


def plot_grpo(work: Path, grpo_name: str, path: Path) -> None:
    """Batch reward per step (and its running mean) and the probe before/after, one colour per
    finished GRPO run in ``work`` that differs from ``grpo_name`` only in its seed."""
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from xpl.analysis.stats import bootstrap, bootstrap_difference

    def setting(name: str) -> str:
        return re.sub(r"-seed\d+", "", name)

    runs = []
    for folder in sorted(work.iterdir()):
        stage = folder / "stage.json"
        if setting(folder.name) == setting(grpo_name) and stage.is_file():
            runs.append(json.loads(stage.read_text()))
    fig, (curve_ax, probe_ax) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]})
    for i, run in enumerate(runs):
        colour, seed = f"C{i}", run["config"]["train"]["seed"]
        steps = np.array([r["step"] for r in run["reward_curve"]])
        reward = np.array([r["reward"] for r in run["reward_curve"]])
        window = min(5, len(reward))
        smooth = np.convolve(reward, np.ones(window) / window, mode="valid")
        curve_ax.plot(steps, reward, color=colour, alpha=0.3, linewidth=1)
        curve_ax.plot(steps[window - 1 :], smooth, color=colour, linewidth=2, label=f"seed {seed}")
        probe = run["probe"]
        if probe:
            for x, key in ((0, "per_problem_before"), (1, "per_problem_after")):
                e = bootstrap(np.array([probe[key]]))
                probe_ax.errorbar(
                    x + 0.08 * (i - (len(runs) - 1) / 2),
                    e.mean,
                    yerr=[[e.mean - e.low], [e.high - e.mean]],
                    color=colour,
                    marker="o",
                    capsize=3,
                )
            probe_ax.plot([0, 1], [probe["reward_before"], probe["reward_after"]], color=colour, alpha=0.5)
            d = bootstrap_difference(np.array([probe["per_problem_after"]]), np.array([probe["per_problem_before"]]))
            probe_ax.annotate(
                f"seed {seed}: after - before {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]",
                (0.02, 0.97 - 0.06 * i),
                xycoords="axes fraction",
                color=colour,
                fontsize=8,
                va="top",
            )
    curve_ax.set_xlabel("GRPO step")
    curve_ax.set_ylabel("mean reward of the step's batch")
    curve_ax.set_title("reward per step (thin) and its 5-step running mean")
    curve_ax.legend()
    probe_ax.set_xticks([0, 1], ["before GRPO", "after GRPO"])
    probe_ax.set_xlim(-0.5, 1.5)
    low, high = probe_ax.get_ylim()
    probe_ax.set_ylim(low, high + 0.25 * (high - low))  # room for the paired differences
    probe = runs[0]["probe"] if runs else None
    probe_ax.set_title(f"probe: {probe['problems']} problems (95% CI)" if probe else "no probe")
    probe_ax.set_ylabel("mean reward, 8 samples per problem")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def changed_by_template(problems, before, after) -> dict[str, dict[str, int]]:
    """Per family template (the problem name's last part), how many problems' pass rates went
    up and down: whether a difference is spread over templates or is one template flipping."""
    out: dict[str, dict[str, int]] = {}
    for problem, b, a in zip(problems, before, after, strict=True):
        if a != b:
            counts = out.setdefault(problem.name.rsplit("-", 1)[-1], {"up": 0, "down": 0})
            counts["up" if a > b else "down"] += 1
    return out


def markdown(r: dict) -> str:
    def ci(e: dict) -> str:
        return f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"

    def diff(e: dict) -> str:
        return f"{e['mean']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]"

    p, probe, curve, g = r["pass_at_1"], r["probe"], r["reward_curve"], r["grpo"]
    loss = r["heldout_loss"]
    shipped = r.get("base") == "organism"
    lines = [
        ("Base: the shipped organism (no pretraining here). " if shipped else "")
        + f"Problems: {r['problems']['train']} train / {r['problems']['test']} held-out (levels {r['problems']['levels']}); "
        f"steps: pretrain {r['steps']['pretrain']}, SFT {r['steps']['sft']}, GRPO {r['steps']['grpo']} "
        f"(learning rate {r['grpo_learning_rate']:g}, {g['prompts_per_step']} prompts x {g.get('group', 8)} completions per step, "
        f"{g.get('reward', 'fraction')} reward, temperature {g['temperature']:g}"
        + (f", KL beta {g['beta']:g}" if g.get("beta") else "")
        + f", on {g['problems']} " + (f"problems of {g['pool_file']}" if g.get("pool_file") else "train problems")
        + (" (mixed pool)" if g.get("pool") else "")
        + f", seed {g['seed']}); wall {r['wall_s'] / 60:.1f} min.",
        "",
        "| measure | value (95% CI) |",
        "|---|---|",
        f"| held-out Python loss, before -> after pretraining (nats/token) | {loss['before']:.3f} -> {loss['after']:.3f} |",
        f"| Python pass@1, pretrained | {ci(p['pretrained'])} |",
        f"| Python pass@1, SFT | {ci(p['sft'])} |",
        f"| Python pass@1, SFT then GRPO | {ci(p['grpo'])} |",
        f"| SFT - pretrained | {diff(r['sft_minus_pretrained'])} |",
        f"| GRPO - SFT | {diff(r['grpo_minus_sft'])} |",
        f"| GRPO probe reward ({probe['problems']} of GRPO's problems), before -> after | {probe['before']:.3f} -> {probe['after']:.3f} |",
        f"| probe after - before | {diff(probe['after_minus_before'])} |",
        f"| GRPO batch reward, first -> last quarter of {curve['steps']} steps | {curve['first_quarter']:.3f} -> {curve['last_quarter']:.3f} |",
    ]
    changed = r.get("grpo_changed")
    if changed is not None:
        where = ", ".join(f"{t} {c['up']} up / {c['down']} down" for t, c in sorted(changed.items())) or "none"
        lines += ["", f"Held-out problems whose pass rate GRPO changed, by template: {where}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
