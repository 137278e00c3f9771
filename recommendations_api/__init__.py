"""Recommendations API: a thin FastAPI read API over the RecStore port.

``python -m recommendations_api`` serves it with uvicorn; ``bootstrap.create_app`` is the one
composition root. Importing this package connects to nothing.
"""
