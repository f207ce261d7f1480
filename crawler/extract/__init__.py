"""The extraction family: HTML page -> Article record.

`extraction` runs the steps; `boilerplate` prunes chrome and cleans text lines; `metadata`
decides dates, title, authors; `pagetype` decides what kind of page it is;
`trafilatura_metadata` reads trafilatura's own metadata lazily; `pool` runs it all off the
reactor in worker processes.
"""
