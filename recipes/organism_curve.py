"""Held-out pass@1 of the organism's pretraining checkpoints, per PL, against tokens seen.

    python recipes/organism_curve.py organism-work [--langs python,rust,...] [--problems 60]

For every ``checkpoint-N`` under ``WORK/base`` (what ``make organism`` keeps), the checkpoint
gets the run's tokenizer and is evaluated greedily with ``xpl eval`` (completion prompts) on
the first ``--problems`` held-out problems of the default set (``WORK/default-set/test.jsonl``,
which the pretraining pool excludes). Writes ``docs/organism_curve.json`` (every number) and
``docs/organism_curve.png``; a checkpoint already in the JSON is not evaluated again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

LANGS = "python,rust,go,php,ruby,java,javascript"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, help="the ORGANISM_WORK folder of `make organism`")
    parser.add_argument("--langs", default=LANGS)
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--every", type=int, default=500, help="evaluate the checkpoints whose step is a multiple of this")
    args = parser.parse_args()
    base = args.work / "base"
    state = json.loads((base / "stage.json").read_text()) if (base / "stage.json").is_file() else None
    checkpoints = sorted(base.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not checkpoints:
        sys.exit(f"{base}: no checkpoint-N folders (run `make organism` first)")
    tokens_per_step = 32 * 256  # batch_size x context of recipes/organism-pretrain.yaml
    out_json = args.out / "organism_curve.json"
    curve = json.loads(out_json.read_text()) if out_json.is_file() else {"points": []}
    done = {p["step"] for p in curve["points"]}
    for ck in checkpoints:
        step = int(ck.name.split("-")[1])
        if step in done or step % args.every:
            continue
        model = args.work / "curve-models" / ck.name
        if not (model / "model.safetensors").is_file():
            shutil.rmtree(model, ignore_errors=True)
            model.mkdir(parents=True)
            for f in ck.iterdir():
                if f.name in ("config.json", "generation_config.json", "model.safetensors"):
                    shutil.copy(f, model / f.name)
            for f in (base / "tokenizer").iterdir():
                shutil.copy(f, model / f.name)
        ev = args.work / "curve-eval" / ck.name
        cmd = [
            sys.executable, "-m", "xpl.cli", "eval", "--model", str(model), "--benchmark", str(args.work / "default-set" / "test.jsonl"),
            "--langs", args.langs, "--completion", "--n", "1", "--temperature", "0", "--max-new-tokens", "128",
            "--max-problems", str(args.problems), "--batch-size", "32", "-o", str(ev),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        summary = json.loads((ev / "summary.json").read_text())
        point = {"step": step, "tokens": step * tokens_per_step,
                 "pass_at_1": {row["language"]: row["pass_at_1"] for row in summary["languages"]}}
        curve["points"].append(point)
        curve["points"].sort(key=lambda p: p["step"])
        args.out.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(curve, indent=2) + "\n")
        print(step, {k: round(v["mean"], 3) for k, v in point["pass_at_1"].items()}, flush=True)
    if state:
        curve["heldout_loss"] = {"before": state["heldout_loss_before"], "after": state["heldout_loss_after"]}
        out_json.write_text(json.dumps(curve, indent=2) + "\n")
    plot(curve, args.out / "organism_curve.png")


def plot(curve: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    points = curve["points"]
    langs = list(points[-1]["pass_at_1"])
    for lang in langs:
        xs = [p["tokens"] / 1e6 for p in points if lang in p["pass_at_1"]]
        ys = [p["pass_at_1"][lang]["mean"] for p in points if lang in p["pass_at_1"]]
        style = dict(linewidth=2.5, color="black") if lang == "python" else dict(linewidth=1.2)
        ax.plot(xs, ys, marker="o", markersize=3, label=lang, **style)
    ax.set_xlabel("pretraining tokens (millions)")
    ax.set_ylabel("held-out pass@1 (greedy, 60 problems)")
    ax.set_title("The organism base during pretraining")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
