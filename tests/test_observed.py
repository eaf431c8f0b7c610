"""Observed data shipped with the package: every row keeps its source; the loaders read it."""

from __future__ import annotations

import pytest

from returnsim import observed


@pytest.mark.parametrize("name", observed.tables())
def test_every_observed_row_has_a_source(name):
    table = observed.load(name)
    assert len(table) > 0
    assert table["source"].notna().all() and (table["source"].str.strip() != "").all()


def test_unknown_table_is_named():
    with pytest.raises(KeyError, match="no observed table 'returns'; known: history_events, host_government_returns"):
        observed.load("returns")


def test_verified_returns_series():
    series = observed.verified_refugee_returns()
    assert series.loc[2019] == 94971
    assert list(series.index) == sorted(series.index)
