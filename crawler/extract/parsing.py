"""The page's one parse: trafilatura's `load_html`, step for step, with a cheaper parser.

lxml.html's parser picks each element's Python class in a Python callback
(HtmlElementClassLookup.lookup: <form>, <input>, <select>... get their own classes), called
whenever lxml hands out an element it has not handed out before: ~1,000 calls a page for
every walk over the tree, ~10 walks a page (trafilatura's among them). Here the class is always
HtmlElement, picked inside libxml2's C loop; nothing in the extraction uses the form classes'
extras, so the trees are the same (`tests/test_extraction_rules.py` compares them).
"""

from __future__ import annotations

import logging

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring
from trafilatura.utils import DOCTYPE_TAG, decode_file, is_dubious_html, repair_faulty_html

LOGGER = logging.getLogger(__name__)

# trafilatura.utils.HTML_PARSER's options
HTML_PARSER = etree.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True,
)  # fmt: skip
HTML_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)


def _from_bytes(html: str) -> HtmlElement | None:
    """trafilatura.utils.fromstring_bytes with this module's parser."""
    try:
        return fromstring(html.encode("utf8", "surrogatepass"), parser=HTML_PARSER)
    except Exception as err:  # trafilatura's own guard: no tree, no crash
        LOGGER.debug("lxml parsing failed: %s", err)
        return None


# What trafilatura's repair_faulty_html removes (its INVALID_XML_CHARS), as UTF-8 bytes: the
# control bytes never occur inside a multi-byte character, so bytes.translate finds them.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())


def _needs_repair(text: str, raw: bytes, beginning: str) -> bool:
    """Whether repair_faulty_html would change the text: a character XML forbids, a doctype
    with a slash on the first line, or a self-closing <html/> among the first four lines
    (its own tests, in its own order). Seen in well under 1% of pages; the scan for the
    characters alone cost ~1.2 ms a page as a regular expression over the text."""
    if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
        return True
    if any(character in raw for character in _NONCHARACTERS):
        return True
    if "doctype" in beginning and DOCTYPE_TAG.search(text.partition("\n")[0]):
        return True
    return any("<html" in line and line.endswith("/>") for line in text[:4096].splitlines()[:4])


def load_html(html: str | bytes) -> HtmlElement | None:
    """trafilatura.utils.load_html (2.x) for str and bytes, parsed by HTML_PARSER. A page that
    needs none of trafilatura's repairs is parsed from its UTF-8 bytes (the same tree, ~20%
    faster than from the str); any other page goes trafilatura's way, step for step."""
    text = decode_file(html)
    beginning = text[:50].lower()
    dubious = is_dubious_html(beginning)
    try:
        raw: bytes | None = text.encode("utf8")
    except UnicodeEncodeError:  # lone surrogates: trafilatura's way copes with them
        raw = None
    tree = None
    if raw is not None and not _needs_repair(text, raw, beginning):
        tree = _parsed(raw)
    if tree is None or len(tree) < 1:
        tree = _repaired_and_parsed(text, beginning)
    if tree is not None and dubious and len(tree) < 2:
        return None  # not (well-formed) HTML at all
    return tree


def _parsed(raw: bytes) -> HtmlElement | None:
    try:
        return fromstring(raw, parser=HTML_PARSER)
    except Exception as err:  # trafilatura's own guard: no tree, no crash
        LOGGER.debug("lxml parsing failed: %s", err)
        return None


def _repaired_and_parsed(text: str, beginning: str) -> HtmlElement | None:
    """trafilatura's way: the repaired str first, its bytes when that fails or is empty."""
    text = repair_faulty_html(text, beginning)
    tree, from_bytes = None, False
    try:
        tree = fromstring(text, parser=HTML_PARSER)
    except ValueError:  # "Unicode strings with encoding declaration are not supported."
        tree, from_bytes = _from_bytes(text), True
    except Exception as err:  # trafilatura's own guard: the bytes are tried next
        LOGGER.debug("lxml parsing failed: %s", err)
    if (tree is None or len(tree) < 1) and not from_bytes:
        tree = _from_bytes(text)
    return tree
