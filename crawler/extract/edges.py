"""The lines around an article's body: the header block above it and the trailer below it.

Header: kicker, headline, byline, dateline.

trafilatura often starts a text with what the page shows above the first paragraph: a section
or kicker line, the headline again (sometimes glued to its kicker), "By Jane Roe", "Stand:
22.04.2024, 06:00 Uhr". Those are metadata, which the record already has in `title`, `author`
and `date`, not article text. Only the leading short lines are looked at: the header zone ends
at the first line that reads as a paragraph.

Summary box: a run of two or more list items at the very top, under a short label or none
("Darum geht's", "Kort fortalt", or bare bullets above the first paragraph), is the page's
summary of the article, not its text.

Trailer: after the last sentence, sites close with short lines that are not sentences: the
reporter's name or initials, an agency credit ("(Quelle: APA/dpa)", "Mit Agenturmaterial."),
"Sign up for our emails", "Subscribe Now!", "- Eigene Recherche". A short run of such lines at
the very end goes; a short closing sentence ("He died in 1990.") ends in sentence punctuation
and has words enough, so it stays.
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
# A headline that opens with a dash (a quote, in Scandinavian style) reads like a list item.
DASHES = ("-", "–", "—")
# A full-stop sentence with this many words not in the headline retells it: text, not headline.
LEAD_OWN_WORDS = 3
MARKUP = " *_"  # emphasis marks around a line (a declared body's Markdown)
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


def _restates(line: str, words: list[str], headline: str, wanted: list[str]) -> bool:
    """A sentence that retells the headline in more words (the lead, a standfirst): it ends in
    a full stop where the headline does not and has words enough of its own."""
    ends = line.rstrip(MARKUP).endswith(".") and not headline.rstrip(MARKUP).endswith(".")
    return ends and len(set(words) - set(wanted)) >= LEAD_OWN_WORDS


def is_headline(line: str, headlines: Iterable[str]) -> bool:
    words = _words(line)
    if not words:
        return False
    headlines = list(headlines)
    if line.startswith("- ") and not any(h.lstrip().startswith(DASHES) for h in headlines):
        return False  # a list item (an agenda's, a recap's) is text, unless the headline is one
    for headline in headlines:
        wanted = _words(headline)
        if not wanted or len(words) > HEADLINE_MAX_GROWTH * len(wanted) + 2:
            continue
        present = set(words)
        if _restates(line, words, headline, wanted):
            continue
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


SUMMARY_LABEL_WORDS = 4
SUMMARY_MIN_ITEMS = 2


def strip_summary(lines: list[str]) -> list[str]:
    """``lines`` without a leading summary box (see the module's docstring)."""
    start = 0
    if len(lines) > 1 and not lines[0].startswith("- ") and lines[1].startswith("- "):
        start = 1 if len(lines[0].split()) <= SUMMARY_LABEL_WORDS else 0
    end = start
    while end < len(lines) and lines[end].startswith("- "):
        end += 1
    if end - start >= SUMMARY_MIN_ITEMS and end < len(lines) and not _labelled_list(lines, end):
        return lines[end:]
    return lines


def _labelled_list(lines: list[str], i: int) -> bool:
    """Whether another labelled list starts at ``lines[i]``: then the text is a run of such
    sections (release notes, an agenda) and its first list is one of them, not a summary."""
    return (
        i + 1 < len(lines)
        and not lines[i].startswith("- ")
        and len(lines[i].split()) <= SUMMARY_LABEL_WORDS
        and lines[i + 1].startswith("- ")
    )


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


# Trailer lines: shorter than this (Latin-character measure), at most TRAILER_LINES of them,
# and either fewer than TRAILER_MIN_WORDS words or no sentence-ending punctuation.
TRAILER_MAX_SIZE = 60
TRAILER_LINES = 5
TRAILER_MIN_WORDS = 4
SENTENCE_END = re.compile(r"[.!?…。！？\"”»“'’)]$")
# A line of words enough that ends in a colon leads in to what follows (a link, a document, a
# list): "Das Konzeptpapier finden Sie hier:", "Lesen Sie dazu auch die Pressemitteilungen:".
LEAD_IN_END = re.compile(r"[:：]$")
# A line wholly inside quotation marks is someone's words (a dialogue's "– „Ok.“", a closing
# quote): text, however short; credits and sign-offs are never quoted.
QUOTED_LINE = re.compile(r"^[-–—]?\s*[\"„“”«»‚‘’'「『].+[\"“”«»‘’'」』][.!?…]?$")
# This many short lines right above the closing run: the text itself is made of short lines.
SHORT_TEXT_LINES = 2


def _word_count(line: str) -> int:
    return len(line.split()) + (text_size(line) - len(line)) // 4  # ~2 CJK characters a word


def is_trailer_line(line: str) -> bool:
    if text_size(line) >= TRAILER_MAX_SIZE or QUOTED_LINE.match(line):
        return False
    if _word_count(line) < TRAILER_MIN_WORDS:
        return True
    return not (SENTENCE_END.search(line) or LEAD_IN_END.search(line))


def strip_trailer(lines: list[str]) -> list[str]:
    """``lines`` without a closing run of up to TRAILER_LINES short non-sentence lines. List
    items that carry on a list begun above the run are the list's end, not a trailer; and a
    text whose lines above the run are short too (a CV, a dialogue, a list of dates) has no
    paragraphs for a trailer to stand out from, so its short closing lines stay."""
    run = 0
    while run < len(lines) and is_trailer_line(lines[-1 - run]):
        run += 1
    start = len(lines) - run
    above = lines[max(start - SHORT_TEXT_LINES, 0) : start]
    if len(above) == SHORT_TEXT_LINES and all(text_size(x) < TRAILER_MAX_SIZE for x in above):
        return lines
    if run < len(lines) and lines[-1 - run].startswith("- "):
        while run and lines[-run].startswith("- "):
            run -= 1
    if 0 < run <= TRAILER_LINES and run < len(lines):
        return lines[: len(lines) - run]
    return lines
