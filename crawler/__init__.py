"""Fetch and understand news pages: spiders, discovery, extraction, downloader hooks."""
