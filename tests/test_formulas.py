"""The reward formulas against hand-computed numbers."""

import math

import pytest
import torch

from cim.reward.formulas import cim_reward, grc, qir, rank_weights


def test_rank_weights_halve_per_rank():
    assert rank_weights(3).tolist() == [1.0, 0.5, 0.25]
    assert rank_weights(5).tolist() == [1.0, 0.5, 0.25, 0.125, 0.0625]


def test_qir_grc_reward_by_hand():
    source = torch.tensor([[1.0, 0.0]])
    retrieved = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]])
    # cosines 1, 0, 0.6 → 1 + 0.5·0 + 0.25·0.6
    assert qir(source, retrieved).item() == pytest.approx(1.15)
    # mean (1.6/3, 1.8/3) → norm √(0.28444 + 0.36)
    expected_grc = math.sqrt((1.6 / 3) ** 2 + (1.8 / 3) ** 2)
    assert grc(retrieved).item() == pytest.approx(expected_grc)
    assert expected_grc == pytest.approx(0.802773, abs=1e-6)
    assert cim_reward(qir(source, retrieved), grc(retrieved), beta=1.0).item() == pytest.approx(1.15 + expected_grc)
    assert cim_reward(qir(source, retrieved), grc(retrieved), beta=0.5).item() == pytest.approx(0.575 + expected_grc)


def test_bounds_identical_and_opposite_retrievals():
    source = torch.tensor([[0.0, 1.0]])
    same = source.repeat(3, 1).unsqueeze(0)
    assert grc(same).item() == pytest.approx(1.0)
    assert qir(source, same).item() == pytest.approx(1.75)  # the maximum for K=3
    cancelling = torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]])
    assert grc(cancelling).item() == pytest.approx(0.0)


def test_batch_rows_are_independent():
    torch.manual_seed(0)
    source = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    retrieved = torch.nn.functional.normalize(torch.randn(4, 3, 8), dim=-1)
    batched = qir(source, retrieved)
    for i in range(4):
        assert qir(source[i : i + 1], retrieved[i : i + 1]).item() == pytest.approx(batched[i].item(), abs=1e-6)
