"""The course-exam API: the five routes a recommender-systems course grades, over the platform's engine.

A thin adapter: items go into the catalogue, likes and dislikes into the rating path, lists come
from the RecStore the engine publishes (and the online updater's overlays); ``python -m exam_api``
serves ports 5000 and 5001 and, on the embedded default, supervises the engine's processes.
"""
