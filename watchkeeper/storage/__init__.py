"""Storage: repository protocols (``protocols``) and the SQL backend (``factory.open_store``).

Stages import ``watchkeeper.storage.protocols`` only; ``runtime/wiring.py`` and ``api/deps.py`` call
``watchkeeper.storage.factory.open_store``. This package file imports nothing so that importing the
protocols never pulls in SQLAlchemy.
"""
