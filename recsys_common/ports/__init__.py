"""Ports: small abstract classes the services depend on; adapters implement them."""
