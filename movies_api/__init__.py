"""The Movies API: catalogue search, film cards, genres, rating intake and hydrated recommendations.

Build it with ``movies_api.bootstrap.create_app(settings, catalog=..., publisher=...)``; run it
with ``python -m movies_api``.
"""
