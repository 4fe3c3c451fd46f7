"""Exact search: correctness against brute force, stable tie order, exclusion; FAISS flat equals exact."""

import numpy as np
import pytest
import torch

from cim.index.exact import ExactIndex
from cim.index.registry import faiss_factory, make_index
from cim.index.topk import stable_topk
from tests.conftest import unit_rows


def brute_force(matrix: np.ndarray, queries: np.ndarray, k: int, exclude=None):
    """Reference: full sort by (-score, row)."""
    scores = queries @ matrix.T
    out_rows = []
    for q in range(len(queries)):
        order = sorted(range(len(matrix)), key=lambda r: (-scores[q, r], r))
        if exclude is not None:
            order = [r for r in order if r != exclude[q]]
        out_rows.append(order[:k])
    return np.array(out_rows)


def test_exact_matches_brute_force_across_chunks():
    rng = np.random.default_rng(1)
    matrix, queries = unit_rows(rng, 1000, 16), unit_rows(rng, 20, 16)
    index = ExactIndex(matrix, device="cpu", chunk_rows=128)  # 8 chunks
    _, rows = index.search(torch.from_numpy(queries), 5)
    np.testing.assert_array_equal(rows.numpy(), brute_force(matrix, queries, 5))


def test_ties_are_ordered_by_row_index():
    matrix = np.zeros((10, 4), dtype=np.float32)
    matrix[:, 0] = 1.0  # every row identical → every score ties
    query = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    for chunk_rows in (3, 10):
        _, rows = ExactIndex(matrix, device="cpu", chunk_rows=chunk_rows).search(query, 4)
        assert rows.tolist() == [[0, 1, 2, 3]]


def test_stable_topk_with_ties_at_the_boundary():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.7, 0.5, 0.5]])
    values, columns = stable_topk(scores, 4)
    assert columns.tolist() == [[1, 3, 0, 2]]
    assert values[0].tolist() == pytest.approx([0.9, 0.7, 0.5, 0.5])


def test_exclusion_removes_only_that_row():
    rng = np.random.default_rng(2)
    matrix = unit_rows(rng, 300, 8)
    queries = matrix[[5, 17, 250]]  # each query's best match is itself
    exclude = np.array([5, -1, 250])
    _, rows = ExactIndex(matrix, device="cpu", chunk_rows=64).search(torch.from_numpy(queries), 3, torch.from_numpy(exclude))
    np.testing.assert_array_equal(rows.numpy(), brute_force(matrix, queries, 3, exclude))
    assert 5 not in rows[0].tolist() and rows[1, 0].item() == 17 and 250 not in rows[2].tolist()


def test_memory_mapped_float16_matrix(tmp_path):
    rng = np.random.default_rng(3)
    matrix = unit_rows(rng, 500, 8).astype(np.float16)
    np.save(tmp_path / "m.npy", matrix)
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    queries = torch.from_numpy(unit_rows(rng, 4, 8))
    _, rows = ExactIndex(mapped, device="cpu").search(queries, 3)
    np.testing.assert_array_equal(rows.numpy(), brute_force(matrix.astype(np.float32), queries.numpy(), 3))


def test_faiss_flat_equals_exact():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(4)
    matrix, queries = unit_rows(rng, 2000, 32), torch.from_numpy(unit_rows(rng, 50, 32))
    exclude = torch.tensor([i * 7 if i % 2 else -1 for i in range(50)])
    exact_scores, exact_rows = make_index("exact", matrix, device="cpu").search(queries, 3, exclude)
    flat_scores, flat_rows = make_index("faiss-flat", matrix).search(queries, 3, exclude)
    assert torch.equal(exact_rows, flat_rows)
    assert torch.allclose(exact_scores, flat_scores, atol=1e-5)


def test_backend_names():
    assert faiss_factory("exact", 100) is None
    assert faiss_factory("faiss-ivf", 10_000) == "IVF400,Flat"
    assert faiss_factory("faiss:IVF64,PQ8", 10) == "IVF64,PQ8"
    with pytest.raises(ValueError, match="valid: .*exact"):
        faiss_factory("annoy", 10)


def test_stable_topk_matches_a_full_sort_under_heavy_ties():
    generator = torch.Generator().manual_seed(5)
    scores = torch.randint(0, 4, (200, 50), generator=generator).float()  # many equal scores per row
    for k in (1, 3, 7, 50):
        values, columns = stable_topk(scores, k)
        for row in range(len(scores)):
            expected = sorted(range(50), key=lambda c: (-scores[row, c].item(), c))[:k]
            assert columns[row].tolist() == expected
            assert values[row].tolist() == scores[row, expected].tolist()


def test_trained_faiss_index_is_cached_beside_the_gallery(random_gallery):
    pytest.importorskip("faiss")
    from cim.reward.options import ScorerOptions
    from cim.reward.scorer import CIMScorer

    first = CIMScorer(random_gallery, ScorerOptions(index="faiss:IVF4,Flat"), device="cpu")
    cached = list((random_gallery / "index").glob("IVF4_Flat-*.faiss"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = CIMScorer(random_gallery, ScorerOptions(index="faiss:IVF4,Flat"), device="cpu")
    assert cached[0].stat().st_mtime_ns == stamp  # read, not rebuilt
    a, b = first.score(["a red circle"], ["item-3"])[0], second.score(["a red circle"], ["item-3"])[0]
    assert a.retrieved_ids == b.retrieved_ids
