"""Synthetic data and the demo federation."""
