"""Shared kernel of the platform: domain types, column names, ids, ports and adapters.

Every service imports from here; no service imports another service's internals.
Nothing in this package connects to a server at import time.
"""
