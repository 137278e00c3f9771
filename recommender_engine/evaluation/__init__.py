"""Offline evaluation of the engine's model against baselines (the ``recsys evaluate`` protocol)."""
