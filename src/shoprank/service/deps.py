"""FastAPI dependencies: the engine the app was created with."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shoprank.engine import ShopRank


def get_engine(request: Request) -> ShopRank:
    return request.app.state.engine


EngineDep = Annotated[ShopRank, Depends(get_engine)]
