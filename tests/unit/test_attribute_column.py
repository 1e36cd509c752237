"""An attribute's column stays narrow: 16-bit text codes until a text needs more, and no
numbers until a value is a number, boolean or date."""

from __future__ import annotations

import numpy as np

from promoter.analytics.response_columns import AttributeColumn


def test_text_codes_widen_when_the_texts_outgrow_16_bits() -> None:
    column = AttributeColumn.empty(3)
    assert column.code.dtype == np.int16
    codes = [column.code_of(f"text {i}") for i in range(40_000)]
    column.code[np.array([0, 2])] = np.array([codes[-1], codes[7]], np.int32)
    assert column.code.tolist() == [39_999, -1, 7]
    assert column.texts[column.code[0]] == "text 39999"


def test_text_attributes_hold_no_numbers() -> None:
    column = AttributeColumn.empty(4)
    column.set_numbers(np.array([0, 1]), np.array([np.nan, np.nan]))
    column.grow(6)
    assert column.number is None
    assert np.isnan(column.numbers(np.array([0, 5]))).all()
    column.set_numbers(np.array([3]), np.array([2.5]))
    assert column.number is not None
    assert len(column.number) == 6
    numbers = column.numbers(slice(0, 6))
    assert numbers[3] == 2.5
    assert np.isnan(np.delete(numbers, 3)).all()
