"""The request dependencies where story 3.4 looks for them (AC7: `backend/src/core/deps.py`).

`get_session` is the database's (src/core/database.py); `get_current_user` lives with the other
request dependencies in src/api/deps.py, because it needs the user model, above `core`. This
module only names them, so that ``from src.core.deps import get_current_user, get_session``
works as the story writes it. Endpoints use `SessionDep` and `CurrentUser` from src/api/deps.py.
"""

from __future__ import annotations

from src.api.deps import get_current_user
from src.core.database import get_session

__all__ = ["get_current_user", "get_session"]
