"""Internals of the synthetic data generator (`polex.demo.generate` is its public face)."""
