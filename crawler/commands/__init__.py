"""Project commands: `scrapy extract` (and later `scrapy corpus ...`)."""
