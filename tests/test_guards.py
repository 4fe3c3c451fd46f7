"""Anti-gaming guards: a repetition-proof query (reward option), and GRPO's repetition and over-length
penalties, truncation masking and per-component normalisation (recipe keys), inside real TRL steps."""

from __future__ import annotations

import math

import pytest

from cim.errors import OptionError
from cim.reward.options import ScorerOptions
from cim.reward.query import repeated_share, without_repeats
from cim.reward.scorer import CIMScorer
from cim.shapes import split_scenes
from cim.train.data import grpo_dataset
from cim.train.grpo import GRPOOptions, make_grpo_trainer
from cim.train.guards import guard_rewards
from cim.train.tiny import build_tiny_vlm


def test_repeated_sentences_are_dropped_exact_and_near_exact():
    assert without_repeats("A red circle. A red circle. A blue square.") == "A red circle. A blue square."
    assert without_repeats("A red circle!\nA RED circle  A blue square; a red, circle") == "A red circle! A RED circle  A blue square;"
    assert without_repeats("A red circle. a red circle.") == "A red circle."
    assert without_repeats("The circle is left of the square. The square is left of the circle.").count("left") == 2


def test_repeated_share_counts_sentences_repeating_an_earlier_one_in_any_wording():
    assert repeated_share("A red circle. a red circle! A blue square.") == pytest.approx(1 / 3)
    # distinct relation sentences share most of their words, and are not repeats
    assert repeated_share("The circle is left of the square. The square is left of the star. The star is above the circle.") == 0.0
    other_writer = "To the upper left of the blue box sits a red ball; to the upper left of the BLUE box sits a red ball.\nThere is a star"
    assert repeated_share(other_writer) == pytest.approx(1 / 3)
    assert repeated_share("") == 0.0 and repeated_share(" . ! ") == 0.0


def test_a_deduplicated_query_cannot_be_moved_by_repetition(built_gallery):
    plain = CIMScorer(built_gallery, device="cpu")
    deduped = CIMScorer(built_gallery, ScorerOptions(dedupe_sentences=True), text_encoder=plain.text_encoder)
    honest = "A red circle on a grey background. A blue square."
    padded = honest + " A blue square. a blue square! A Blue Square."
    same = deduped.score([honest, padded], ["green-circle-0", "green-circle-0"])
    assert same[0].model_dump() == same[1].model_dump()
    moved = plain.score([honest, padded], ["green-circle-0", "green-circle-0"])
    assert moved[0].text_sims != moved[1].text_sims  # without the guard, padding shifts the query


def test_guard_rewards_follow_their_formulas():
    (repetition, overlong), weights = guard_rewards(0.5, 2, 4, 10)
    assert weights == [1.0, 1.0]
    assert repetition(completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]]) == [0.0, pytest.approx(-0.5 * 0.75)]
    assert overlong(completion_ids=[[1] * 6, [1] * 8, [1] * 10, [1] * 11]) == pytest.approx([0.0, -0.5, -1.0, -1.0])
    assert guard_rewards() == ([], [])
    (sentences,), _ = guard_rewards(sentence_repeat_penalty=0.5)
    chat = [{"role": "assistant", "content": "A star. A star. A star. A moon."}]
    assert sentences.__name__ == "sentence_repeat_penalty"
    assert sentences(completions=["A star. A moon.", "A star. a star!", chat]) == pytest.approx([0.0, -0.25, -0.25])
    (words,), _ = guard_rewards(0.5, 2, repetition_unit="word")
    assert words.__name__ == "word_repetition_penalty"
    # "the star is left of the star": bigram "the star" repeats once in 6 bigrams; case and punctuation ignored
    assert words(completions=["The star is left of the Star.", "A star.", chat]) == pytest.approx([-0.5 / 6, 0.0, -0.5 * 4 / 7])
    with pytest.raises(OptionError, match="repetition_unit"):
        GRPOOptions.parse({"repetition_unit": "char"})
    with pytest.raises(OptionError, match="overlong_buffer=64 must be below max_completion_length=64"):
        GRPOOptions.parse({"overlong_buffer": 64, "max_completion_length": 64})
    with pytest.raises(OptionError, match="repetition_penalty': Input should be greater than or equal to 0"):
        GRPOOptions.parse({"repetition_penalty": -1})
    with pytest.raises(OptionError, match="sentence_repeat_penalty': Input should be greater than or equal to 0"):
        GRPOOptions.parse({"sentence_repeat_penalty": -0.5})


@pytest.mark.parametrize(("aggregation", "unit"), [("sum_then_normalize", "token"), ("normalize_then_sum", "word")])
def test_guards_are_reward_components_of_real_grpo_steps(shapes_gallery, tmp_path, aggregation, unit):
    model_dir = build_tiny_vlm(tmp_path / "tiny", seed=0)
    dataset = grpo_dataset(split_scenes("train", 4), image_size=84, reward_image_size=128)
    scorer = CIMScorer(shapes_gallery)
    options = GRPOOptions(
        learning_rate=1e-2, prompts_per_step=2, num_generations=2, max_completion_length=16, max_steps=2, logging_steps=1,
        repetition_penalty=1.0, overlong_buffer=8, mask_truncated_completions=True, kl_beta=0.001, sentence_repeat_penalty=1.0,
        multi_objective_aggregation=aggregation, repetition_unit=unit,
    )  # fmt: skip
    trainer = make_grpo_trainer(model_dir, dataset, scorer, tmp_path / "run", options)
    assert (trainer.args.mask_truncated_completions, trainer.args.multi_objective_aggregation, trainer.args.beta) == (
        True, aggregation, 0.001)  # fmt: skip
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "rewards/cim_grc/mean" in entry]
    assert len(logs) == 2
    for entry in logs:
        repetition = entry[f"rewards/{'word_repetition_penalty' if unit == 'word' else 'repetition_penalty_reward'}/mean"]
        overlong = entry["rewards/soft_overlong_punishment_reward/mean"]
        sentences = entry["rewards/sentence_repeat_penalty/mean"]
        assert -1.0 <= repetition <= 0.0 and -1.0 <= overlong <= 0.0 and -1.0 < sentences <= 0.0 and math.isfinite(entry["kl"])
        total = entry["rewards/cim_grc/mean"] + entry["rewards/cim_qir/mean"] + repetition + overlong + sentences
        assert entry["reward"] == pytest.approx(total, abs=1e-4)
