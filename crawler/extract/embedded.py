"""Article text a page carries outside its markup: in scripts, or in JSON-LD `articleBody`.

Pages rendered in the browser (React/Next.js hydration state, Nuxt, Apollo caches) often send an
empty article container and the article itself as an HTML string inside a JSON literal in an
inline <script>. trafilatura sees no text there. Asked only when the markup gave no usable text:
the longest JSON string literal that is HTML with paragraph breaks, or the JSON-LD
`articleBody`, whichever is longer.

The declared body also completes a partial text: pages that render only the first part of an
article in their markup (the rest loaded on scroll or behind "read more") still declare it
whole in `articleBody`.
"""

from __future__ import annotations

import json
import re

from lxml import html as lxml_html

# A JSON string literal of at least MIN_CHARS characters (linear: no nested quantifiers).
MIN_CHARS = 400
JSON_STRING = re.compile(r'"((?:[^"\\]|\\.){' + str(MIN_CHARS) + r',})"')
# Paragraph markup, as it appears in a decoded string.
PARAGRAPH_MARKUP = re.compile(r"<(?:p|br)\b", re.IGNORECASE)
BLOCK_TAGS = ("p", "div", "li", "h2", "h3", "h4", "blockquote")


def _decoded(literal: str) -> str | None:
    try:
        value = json.loads(f'"{literal}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def script_html(tree: lxml_html.HtmlElement) -> str | None:
    """The longest HTML fragment with paragraphs found in an inline script's JSON literals."""
    best: str | None = None
    for script in tree.iter("script"):
        if script.get("src") or (script.get("type") or "").endswith("ld+json"):
            continue
        source = script.text or ""
        if len(source) < MIN_CHARS:
            continue
        for match in JSON_STRING.finditer(source):
            value = _decoded(match.group(1))
            if value and PARAGRAPH_MARKUP.search(value) and len(value) > len(best or ""):
                best = value
    return best


def fragment_text(fragment: str) -> str:
    """Paragraph text of an HTML fragment, one paragraph a line, figures and scripts left out."""
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, TypeError):
        return ""
    for dropped in root.xpath(".//script | .//style | .//figure | .//figcaption | .//img"):
        dropped.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter(*BLOCK_TAGS):
        block.tail = "\n" + (block.tail or "")
        block.text = "\n" + (block.text or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def declared_body(article_body: object) -> str:
    """JSON-LD `articleBody` as text, one paragraph a line (it may hold HTML or plain text)."""
    if not isinstance(article_body, str) or not article_body.strip():
        return ""
    if PARAGRAPH_MARKUP.search(article_body):
        return fragment_text(article_body)
    lines = (" ".join(line.split()) for line in article_body.splitlines())
    return "\n".join(line for line in lines if line)


def embedded_text(tree: lxml_html.HtmlElement, article_body: object) -> str:
    """The article text from scripts or JSON-LD, the longer of the two ("" when neither)."""
    from_script = fragment_text(found) if (found := script_html(tree)) else ""
    return max(from_script, declared_body(article_body), key=len)


def _shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + size]) for i in range(max(len(words) - size + 1, 0))}


def contains(whole: str, part: str) -> float:
    """Share of ``part``'s 4-word sequences that also occur in ``whole``."""
    wanted = _shingles(part)
    return len(wanted & _shingles(whole)) / len(wanted) if wanted else 0.0
