"""The engine's model: the ratings matrix, item features, the LightFM hybrid and its artefact.

Nothing here imports a web framework, a server client or settings: it takes frames and arrays.
"""
