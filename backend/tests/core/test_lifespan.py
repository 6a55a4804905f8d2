"""What the app's start-up sets for the rest of the process."""

import gc
from typing import Any

from app.main import YOUNG_COLLECTION_THRESHOLD, create_app
from tests.helpers import make_settings


async def test_young_objects_are_collected_in_larger_rounds_once_started(settings: Any) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])  # Python's default, whatever an earlier app set
    app = create_app(make_settings(settings.database_url))
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
        await app.state.database.dispose()
