"""JSON text from the database reads back exactly as json.loads reads it, through the faster parser or around it."""

from __future__ import annotations

import json
import math

import pytest

from adapters.sql import json_text


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"followers": 3, "rate": 0.25, "tags": ["a", "é", "😀"], "nested": {"none": None, "yes": True}},
        [1, -0.0, 123456789012345678901234567890, 1e300],
        "\ud800 a lone surrogate, which json.dumps escapes and pydantic_core refuses",
        {"key\udfff": ["\ud83d"]},
    ],
)
def test_stored_json_reads_back_as_json_loads_reads_it(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        read = json_text.loads(text)
        assert read == json.loads(text) == value
        assert json.dumps(read) == json.dumps(value)  # same types too (an int stays an int)


def test_non_finite_numbers_read_back() -> None:
    read = json_text.loads(json.dumps([math.inf, -math.inf, math.nan]))
    assert read[:2] == [math.inf, -math.inf]
    assert math.isnan(read[2])


def test_text_that_is_not_json_fails_as_before() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_text.loads('{"unfinished": ')
