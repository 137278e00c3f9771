"""Routers by resource: films, ratings, genres, users' recommendations, health and metrics."""
