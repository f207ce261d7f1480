"""Imported by the extraction pool's fork server (crawler.extract.pool): the extractor loaded
and warmed up once, before the server forks a worker per process, each starting with it."""

from crawler.extract.pool import warm_up

warm_up()
