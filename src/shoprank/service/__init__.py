"""HTTP API and the search page."""
from shoprank.service.app import create_app

__all__ = ["create_app"]
