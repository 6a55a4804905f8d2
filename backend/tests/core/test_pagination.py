"""Paging: a list fetches one row more than a page, and that row only says more follow."""

from app.core.pagination import Page, PageParams, page_of

PAGE = PageParams(limit=3, offset=6)


def test_a_page_fetches_one_row_more_than_its_limit():
    assert PAGE.fetch_limit == 4


def test_rows_past_the_limit_are_trimmed_and_mean_more_follow():
    assert page_of(["a", "b", "c", "d"], PAGE) == (["a", "b", "c"], True)


def test_an_exactly_full_page_has_no_more():
    assert page_of(["a", "b", "c"], PAGE) == (["a", "b", "c"], False)


def test_a_short_page_is_the_last():
    assert page_of(["a"], PAGE) == (["a"], False)


def test_no_rows_is_an_empty_last_page():
    assert page_of([], PAGE) == ([], False)


def test_a_page_carries_has_more_and_no_total():
    page = Page[int](items=[1], limit=3, offset=6, has_more=True)

    assert page.model_dump() == {"items": [1], "limit": 3, "offset": 6, "has_more": True}


def test_has_more_is_documented_in_the_schema():
    schema = Page[int].model_json_schema()

    assert "total" not in schema["properties"]
    assert schema["properties"]["has_more"]["description"]
