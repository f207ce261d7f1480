"""Fetch and understand news pages. The flow: seeds and discovery -> net (fetch guards) ->
frontier (what to fetch, what was seen) -> spiders -> extract; control and commands on top."""
