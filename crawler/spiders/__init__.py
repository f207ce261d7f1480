"""Spiders: `news` is the one the CLI contract names."""
