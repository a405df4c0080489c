"""Helpers the examples share: image grids and GIFs, loss plots, and the training-run plumbing."""
