"""Backends: implementations of the Executor protocol, selected by name."""
