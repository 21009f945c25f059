"""The HTTP layer: openapi.yaml's operations over the store and the engine (Connexion 3, ASGI).

`create_app(roots)` is the only entry point; importing this package loads no data.
"""

from .app import create_app
from .errors import ApiError

__all__ = ["ApiError", "create_app"]
