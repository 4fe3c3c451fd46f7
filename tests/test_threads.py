"""Torch threads per workload: the policy's in training, the reward's while the scorer runs."""

from __future__ import annotations

import pytest
import torch

from cim.integrations.trl import cim_reward_functions
from cim.threads import torch_threads
from cim.train.grpo import GRPOOptions
from cim.train.recipe import load_recipe
from tests.test_train_trl import CountingScorer


def test_torch_threads_sets_the_count_for_the_block_and_restores_it():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_the_reward_scores_with_its_own_thread_count():
    class ThreadSpy(CountingScorer):
        def score(self, captions, sources):
            self.threads = torch.get_num_threads()
            return super().score(captions, sources)

    scorer = ThreadSpy()
    grc, _ = cim_reward_functions(scorer, threads=2)
    with torch_threads(1):
        grc(completions=["a red circle"], source_id=["g-1"])
        assert scorer.threads == 2 and torch.get_num_threads() == 1
        inherit, _ = cim_reward_functions(scorer)
        inherit(completions=["a star"], source_id=["g-1"])
        assert scorer.threads == 1


def test_thread_counts_are_recipe_keys_and_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        GRPOOptions(threads=0)
    recipe = load_recipe("shapes-tiny", ["grpo.threads=1", "grpo.reward_threads=2"])
    assert (recipe.grpo.threads, recipe.grpo.reward_threads) == (1, 2)


def test_a_busy_core_is_seen_and_the_demo_then_trains_on_one_thread(tmp_path):
    import subprocess
    import sys

    import yaml

    from cim.demo import policy_threads
    from cim.threads import busy_cores, policy_threads_for_now

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert busy_cores(0.5) >= 0.7
        assert policy_threads_for_now() == 1
        assert policy_threads([], tmp_path / "new-run") == ["grpo.threads=1"]
    finally:
        spinner.kill()
        spinner.wait()
    assert policy_threads(["grpo.threads=3"], tmp_path) == []  # set by the user: left alone
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"grpo": {"threads": 2}}))
    assert policy_threads([], run) == ["grpo.threads=2"]  # a resumed run keeps its own
