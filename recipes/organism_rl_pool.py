"""The RL problems shipped beside the organism (`rl_problems: {file: organism}` in the default).

    python recipes/organism_rl_pool.py [WORK]        # `make organism-rl`; WORK: organism-work

What `xpl run` would do with `rl_problems: {n: 1800, seed: 41, levels: [1, 2], keep: mixed,
samples: 8}`, once, written into the package: the default set's problems (its `problems`
section, verified), then 1,800 new Python family problems of seed 41 at the held-out levels,
every one that behaves like a held-out problem dropped, and of the rest those the organism
passes in some but not all of 8 samples at GRPO's temperature. The same code path as the run's
`rl_problems/` stage (`xpl.experiments.pipeline.stage_rl_problems`), so a run with those keys
and a run with `file: organism` train on the same problems. Writes
`src/xpl/models/organism/rl_problems.jsonl` and its sidecar `rl_problems.json` (sha256, the
keys, the counts, the problem set it was cleaned against). Rerun it after `make organism`:
the filter depends on the base.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

SPEC = {"n": 1800, "seed": 41, "levels": [1, 2], "keep": "mixed", "samples": 8}


def pool_config():
    """The default configuration with SPEC in place of `rl_problems: {file: organism}`,
    validated only then: the file this recipe writes need not exist yet (`xpl train ship`
    leaves a fresh folder, and `make organism` runs this right after it)."""
    from xpl.experiments.config import from_dict, load_yaml
    from xpl.experiments.spec import ExperimentConfig, embedded_config_path

    data = load_yaml(embedded_config_path())
    data["rl_problems"] = dict(SPEC)
    config = from_dict(ExperimentConfig, data, "default.yaml with recipes/organism_rl_pool.py's rl_problems")
    config.validate()
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, nargs="?", default=Path("organism-work"))
    args = parser.parse_args()

    from xpl.experiments.config import to_dict
    from xpl.experiments.pipeline import stage_rl_problems
    from xpl.experiments.spec import rl_problems_path
    from xpl.experiments.stages import resolve_style, stage_problems
    from xpl.models.loading import organism_folder
    from xpl.models.shipped import sha256
    from xpl.training.common import limit_threads

    limit_threads()
    config = pool_config()
    work = args.work / "rl-pool"

    def report(stage: str, done: int, total, detail: str) -> None:
        if total and done == total:
            print(f"{stage}: done", flush=True)

    _, test = stage_problems(config, work, report)
    base = organism_folder()
    resolve_style(config, base)
    problems = stage_rl_problems(config, work, test, base, report)
    target = rl_problems_path("organism")
    shutil.copyfile(work / "rl_problems" / "rl.jsonl", target)
    counts = json.loads((work / "rl_problems" / "stage.json").read_text())
    about = (
        f"{counts['generated']:,} new Python family problems of seed {SPEC['seed']} (levels "
        f"{', '.join(map(str, SPEC['levels']))}), {counts['excluded']:,} dropped for behaving like a held-out problem, "
        f"and of the {counts['verified']:,} left the {len(problems)} the organism passed in some but not all of "
        f"{SPEC['samples']} samples (`make organism-rl`)."
    )
    sidecar = {
        "sha256": sha256(target),
        "about": about,
        "rl_problems": SPEC,
        "counts": {k: counts[k] for k in ("generated", "excluded", "verified", "mixed", "kept")},
        "clean_against": to_dict(config.problems),
        "command": "make organism-rl",
    }
    target.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"{target}: {len(problems)} problems; {target.with_suffix('.json')}")


if __name__ == "__main__":
    main()
