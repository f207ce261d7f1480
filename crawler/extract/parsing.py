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
from trafilatura.utils import decode_file, is_dubious_html, repair_faulty_html

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


def load_html(html: str | bytes) -> HtmlElement | None:
    """trafilatura.utils.load_html (2.x) for str and bytes, parsed by HTML_PARSER."""
    text = decode_file(html)
    beginning = text[:50].lower()
    dubious = is_dubious_html(beginning)
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
    if tree is not None and dubious and len(tree) < 2:
        return None  # not (well-formed) HTML at all
    return tree
