"""Adapters: implementations of the ports against real servers and embedded files."""
