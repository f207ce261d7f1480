"""Local demo news site ("The Demo Gazette") and its HTTP server, used by `make crawl` and tests."""
