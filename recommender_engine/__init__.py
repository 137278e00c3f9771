"""The batch recommender engine: seed data, LightFM model, lists, publishing, scheduler, CLI."""
