"""Object-level authorization (OWASP API1:2023) on every article route that changes an article:
update_article and delete_article reach the caller's own articles, update_any_article and
delete_any_article everyone's. Someone else's article is a 403 of its own (not_owner)."""

from typing import Any

import pytest
from sqlalchemy import select

from app.articles.models import Article
from app.audit_log.models import AuditEvent
from tests.helpers import end_read

EDIT = ("PATCH", {"title": "Edited"}, 200)
DELETE = ("DELETE", None, 204)
ACTIONS = {"edit": EDIT, "delete": DELETE}


async def _article_of(session: Any, author: Any) -> int:
    article = Article(title="T", body="", author_id=author.id if author else None)
    session.add(article)
    await session.commit()
    return article.id


async def _act(client: Any, action: str, article_id: int, headers: dict[str, str]) -> Any:
    method, body, _ = ACTIONS[action]
    return await client.request(method, f"/articles/{article_id}", json=body, headers=headers)


@pytest.fixture
async def own_only(make_role):
    """A role that may edit and delete, but only its own articles."""
    return await make_role(
        "author", permissions=["read_article", "update_article", "delete_article"]
    )


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_the_author_acts_on_their_own_article(
    client, session, make_user, auth_headers, own_only, action
):
    author = await make_user(roles=["author"])
    article_id = await _article_of(session, author)

    response = await _act(client, action, article_id, await auth_headers(author))

    assert response.status_code == ACTIONS[action][2], response.text


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_someone_elses_article_without_the_any_permission_is_403_not_owner(
    client, session, make_user, auth_headers, own_only, action
):
    author = await make_user(roles=["author"])
    other = await make_user(roles=["author"])
    article_id = await _article_of(session, author)

    response = await _act(client, action, article_id, await auth_headers(other))

    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == "not_owner"
    assert body["missing"] == [f"{'update' if action == 'edit' else 'delete'}_any_article"]
    await end_read(session)
    assert await session.get(Article, article_id) is not None


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_the_refusal_is_audited_as_not_owner(
    client, session, make_user, auth_headers, own_only, action
):
    author, other = await make_user(roles=["author"]), await make_user(roles=["author"])
    article_id = await _article_of(session, author)

    await _act(client, action, article_id, await auth_headers(other))

    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    assert denial.actor_user_id == other.id
    assert denial.details["reason"] == "not_owner"


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_the_any_permission_reaches_someone_elses_article(
    client, session, make_user, auth_headers, action
):
    author = await make_user(roles=["editor"])
    admin = await make_user(roles=["admin"])
    article_id = await _article_of(session, author)

    response = await _act(client, action, article_id, await auth_headers(admin))

    assert response.status_code == ACTIONS[action][2], response.text


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_an_article_whose_author_was_deleted_is_nobodys_own(
    client, session, make_user, auth_headers, own_only, action
):
    article_id = await _article_of(session, None)
    author = await make_user(roles=["author"])

    response = await _act(client, action, article_id, await auth_headers(author))

    assert response.status_code == 403
    assert response.json()["code"] == "not_owner"


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_without_the_own_permission_is_403_permission_denied(
    client, session, make_user, auth_headers, action
):
    viewer = await make_user(roles=["viewer"])
    article_id = await _article_of(session, viewer)

    response = await _act(client, action, article_id, await auth_headers(viewer))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_a_missing_article_is_404_for_whoever_may_act_on_articles(
    client, make_user, auth_headers, own_only, action
):
    author = await make_user(roles=["author"])

    response = await _act(client, action, 999_999, await auth_headers(author))

    assert response.status_code == 404
