"""Meshmill's own finish, after every backend: clean-up, UVs, texture bake, export, preview."""
