"""Needed only by `scrapyd-deploy`, which builds eggs with `python setup.py bdist_egg`.

All metadata, and the `scrapy` entry point through which Scrapyd finds the settings module of
a deployed egg, live in pyproject.toml.
"""

from setuptools import setup

setup()
