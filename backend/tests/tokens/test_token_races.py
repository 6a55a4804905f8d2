"""Creations that race: the limit of live tokens a user holds under parallel requests."""

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from app.auth.models import PersonalAccessToken
from app.auth.pats import MAX_LIVE_TOKENS
from app.core.clock import utcnow
from app.core.security import hash_opaque_token
from tests.helpers import end_read, postgres_only

PARALLEL = 20
ROOM = 5


@postgres_only
async def test_twenty_parallel_creations_never_pass_the_limit(
    client, session, make_user, auth_headers
):
    user = await make_user()
    session.add_all(
        PersonalAccessToken(
            user_id=user.id,
            name=f"t{n}",
            token_hash=hash_opaque_token(f"existing{n}"),
            display_prefix="pya_pat_xxxxxx",
            expires_at=utcnow() + timedelta(days=1),
        )
        for n in range(MAX_LIVE_TOKENS - ROOM)
    )
    await session.commit()
    headers = await auth_headers(user)

    responses = await asyncio.gather(
        *(
            client.post("/users/me/tokens", json={"name": "p", "scopes": []}, headers=headers)
            for _ in range(PARALLEL)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * ROOM + [409] * (PARALLEL - ROOM)
    live = await session.scalar(
        select(func.count())
        .select_from(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user.id)
    )
    await end_read(session)
    assert live == MAX_LIVE_TOKENS
