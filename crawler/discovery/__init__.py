"""Where pages come from: seeds, and the documents that list them (feeds, sitemaps,
robots.txt, pages)."""
