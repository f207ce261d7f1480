"""The article's header block at the top of its text: kicker, headline, byline, dateline.

trafilatura often starts a text with what the page shows above the first paragraph: a section
or kicker line, the headline again (sometimes glued to its kicker), "By Jane Roe", "Stand:
22.04.2024, 06:00 Uhr". Those are metadata, which the record already has in `title`, `author`
and `date`, not article text. Only the leading short lines are looked at: the header zone ends
at the first line that reads as a paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crawler.extract.pagetype import text_size

# The first line this long (characters or words) is body text: the header zone ends there.
PARAGRAPH_CHARS = 120
PARAGRAPH_WORDS = 20
# A line is the headline when this share of the headline's words is in it and it is not much
# longer than the headline plus a kicker.
HEADLINE_WORD_SHARE = 0.7
HEADLINE_MAX_GROWTH = 2.0
# A byline: an introducing word, then a few words of names.
BYLINE = re.compile(
    r"^(?:[-–•]\s*)?(?:by|von|par|por|de|door|di|av|af|przez|od)\s*:?\s+\S.{0,60}$", re.IGNORECASE
)
BYLINE_MAX_WORDS = 8
# A dateline: a numeric date, a time of day or a CJK date, and few words around it.
DATE_SHAPE = re.compile(
    r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[:.]\d{2}\b|\d{4}年|\d{1,2}月\d{1,2}日"
)
DATELINE_MAX_LETTERS = 40
LETTERS = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def is_headline(line: str, headlines: Iterable[str]) -> bool:
    words = _words(line)
    if not words:
        return False
    for headline in headlines:
        wanted = _words(headline)
        if not wanted or len(words) > HEADLINE_MAX_GROWTH * len(wanted) + 2:
            continue
        present = set(words)
        if sum(1 for w in wanted if w in present) / len(wanted) >= HEADLINE_WORD_SHARE:
            return True
        joined, line_joined = "".join(wanted), "".join(words)
        if joined in line_joined or (len(line_joined) >= 15 and line_joined in joined):
            return True  # a kicker glued to the headline without a space, or a shortened one
    return False


def is_byline(line: str, authors: list[str]) -> bool:
    if len(line.split()) > BYLINE_MAX_WORDS:
        return False
    folded = line.casefold()
    if any(a.casefold() in folded for a in authors if len(a) > 3):
        return True
    return bool(BYLINE.match(line))


def is_dateline(line: str) -> bool:
    return bool(DATE_SHAPE.search(line)) and sum(map(len, LETTERS.findall(line))) <= (
        DATELINE_MAX_LETTERS
    )


def _is_paragraph(line: str) -> bool:
    size = text_size(line)  # a Han/kana/Hangul character counts as three
    return size >= PARAGRAPH_CHARS or len(line.split()) >= PARAGRAPH_WORDS


def strip_header(lines: list[str], headlines: list[str], authors: list[str]) -> list[str]:
    """``lines`` without the header block: everything up to the last headline line of the
    header zone (kickers, section labels and breadcrumbs stand before it), then bylines,
    datelines and lone punctuation left in the zone."""
    zone = 0
    while zone < len(lines) and not _is_paragraph(lines[zone]):
        zone += 1
    last_headline = max(
        (i for i in range(zone) if is_headline(lines[i], headlines)), default=-1
    )
    kept = []
    for i, line in enumerate(lines):
        if i < zone and (
            i <= last_headline
            or is_byline(line, authors)
            or is_dateline(line)
            or not LETTERS.search(line)
        ):
            continue
        kept.append(line)
    return kept
