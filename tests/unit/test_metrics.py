from math import comb

import pytest

from xpl.execution.metrics import pass_at_k, pass_at_k_table


@pytest.mark.parametrize("n, c, k", [(20, 0, 1), (20, 3, 1), (20, 3, 10), (200, 17, 100), (5, 5, 5), (10, 9, 2)])
def test_pass_at_k_matches_the_closed_form(n, c, k):
    exact = 1 - comb(n - c, k) / comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_1_is_the_fraction_correct():
    assert pass_at_k(20, 7, 1) == pytest.approx(7 / 20)


def test_pass_at_k_rejects_nonsense():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_table_aggregates_and_skips_k_above_n():
    table = pass_at_k_table({"a": [True, False], "b": [False, False]}, ks=(1, 2, 10))
    assert table["pass@1"]["mean"] == pytest.approx(0.25)
    assert table["pass@2"]["per_problem"] == {"a": 1.0, "b": 0.0}
    assert "pass@10" not in table
