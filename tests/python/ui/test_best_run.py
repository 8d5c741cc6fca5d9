"""The best run of a runs table (pgtrack._runtable.best_run), the one rule behind the dashboard's
highlighted row and the report's: lowest or highest score; None, NaN and non-numbers never win;
ties go to the first row. No server needed."""
import math

from pgtrack._runtable import best_run, score


def rows(*values):
    return [{"id": i + 1, "best loss": v} for i, v in enumerate(values)]


def test_lowest_wins_by_default_and_highest_for_max():
    table = rows(0.5, 0.2, 0.9)
    assert best_run(table, "loss", "min") == 2
    assert best_run(table, "loss", "max") == 3


def test_nan_none_and_text_never_win():
    table = rows(math.nan, None, "0.1", True, 0.7)
    assert [score(r, "loss") for r in table] == [None, None, None, None, 0.7]
    assert best_run(table, "loss", "min") == 5
    assert best_run(table, "loss", "max") == 5
    assert best_run(rows(math.nan, None), "loss", "min") is None


def test_of_equal_scores_the_first_row_wins():
    assert best_run(rows(0.3, 0.1, 0.1), "loss", "min") == 2
    assert best_run([], "loss", "max") is None
