"""Authentication and authorization: users, passwords, sessions, API tokens, roles per site and camera.

Kept free of imports here so that ``watchkeeper.config`` can import :mod:`watchkeeper.auth.permissions`
without pulling in the services (which themselves import the configuration).
"""
