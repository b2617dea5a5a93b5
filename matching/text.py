"""Tokenizer: jieba words plus character n-grams, with a domain dictionary and stopwords.

The token list returned by :func:`analyze` is what gets stored with a database row at write
time; the ranker is rebuilt from those stored tokens and never segments text again.

Tokens carry a one-letter type prefix so that the ranker can tell them apart:

``w:`` a jieba word (precise mode) that contains a word character and is not a stopword;
``c:`` a single character of the text (stopwords kept, non-word characters dropped);
``b:`` a pair of adjacent characters not separated by a non-word character.

Demand boilerplate (我公司, 技术需求 ...) is cut from the text before any token is made. A text
whose words are all stopwords gets no tokens at all (its characters are not kept either), so a
demand made only of boilerplate is refused as empty instead of matching on 的 or 研.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

import jieba

__all__ = [
    "TOKEN_SEPARATOR",
    "analyze",
    "expert_tokens",
    "initialize",
    "join_tokens",
    "load_boilerplate",
    "load_stopwords",
    "load_user_terms",
    "split_tokens",
    "sub_words",
    "token_text",
    "token_type",
    "words",
]

TOKEN_SEPARATOR = " "

#: How many times each part of an expert's record is repeated in the stored profile tokens.
#: Repetition is how field weighting survives an index rebuild without re-segmenting.
FIELD_REPEATS = {"name_title": 1, "fields": 2, "summary": 1, "item_title": 0, "item_text": 1}

_WORD_CHAR = re.compile(r"\w")
_ASCII_WORD = re.compile(r"[a-z0-9][a-z0-9.]*\Z")
_NON_WORD = re.compile(r"[\W_]+")
_KEYWORDS = re.compile(r"[（(]\s*关键词\s*[：:](.*?)[）)]")

#: Longest unbroken run of characters handed to jieba at once. Its HMM (Viterbi) copies the
#: path at every character, so a run costs the square of its length: 20,000 of one character
#: took 4 s to segment, in pieces of this size 0.5 s. Prose breaks far sooner (punctuation,
#: spaces), so texts without such a run are segmented exactly as before.
MAX_RUN = 200
#: A run as jieba sees one (its ``re_han_default``), longer than MAX_RUN.
_LONG_RUN = re.compile(rf"[\u4e00-\u9fd5a-zA-Z0-9+#&._%\-]{{{MAX_RUN + 1},}}")

_TOKENIZER = jieba.Tokenizer()
_LOCK = threading.Lock()
_state = {"ready": False}


@lru_cache(maxsize=1)
def load_user_terms() -> tuple[str, ...]:
    """Return the terms of the shipped domain dictionary ``matching/data/user_dict.txt``.

    Returns
    -------
    tuple of str
        One entry per non-comment line, first column only.
    """
    text = resources.files("matching").joinpath("data/user_dict.txt").read_text("utf-8")
    return tuple(
        line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@lru_cache(maxsize=1)
def load_stopwords() -> frozenset[str]:
    """Return the stopwords of ``matching/data/stopwords.txt``.

    Returns
    -------
    frozenset of str
        Function words and demand boilerplate (我公司, 需求, 研发 ...).
    """
    text = resources.files("matching").joinpath("data/stopwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@lru_cache(maxsize=1)
def load_boilerplate() -> re.Pattern[str]:
    """Return a pattern matching the demand boilerplate of ``matching/data/boilerplate.txt``.

    Returns
    -------
    re.Pattern
        Alternation of the phrases, longest first.
    """
    text = resources.files("matching").joinpath("data/boilerplate.txt").read_text("utf-8")
    phrases = sorted(
        {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")},
        key=len,
        reverse=True,
    )
    return re.compile("|".join(map(re.escape, phrases)))


def initialize(extra_terms: Iterable[str] = ()) -> None:
    """Load jieba's dictionary and the domain terms once; safe to call again.

    Call it at start-up (before gunicorn forks with ``--preload``) so that every worker shares
    the loaded dictionary. Importing this module does not load anything.

    Parameters
    ----------
    extra_terms : iterable of str, default=()
        More terms to keep whole (e.g. keywords entered by users). Adding a term that is
        already known is harmless.
    """
    with _LOCK:
        if not _state["ready"]:
            _TOKENIZER.initialize()
            for term in load_user_terms():
                _TOKENIZER.add_word(term)
            _state["ready"] = True
        added = False
        for term in extra_terms:
            term = term.strip()
            if term and not any(ch.isspace() for ch in term):
                _TOKENIZER.add_word(term)
                added = True
        if added:
            sub_words.cache_clear()


def _join_compounds(pieces: list[str]) -> list[str]:
    """Join ASCII words split at a hyphen back into one word (CAR-T, Li-ion, Ti-6Al-4V)."""
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        while (i + 2 < len(pieces) and pieces[i + 1] == "-" and _ASCII_WORD.match(piece)
               and _ASCII_WORD.match(pieces[i + 2])):
            piece = f"{piece}-{pieces[i + 2]}"
            i += 2
        out.append(piece)
        i += 1
    return out


def _segment(text: str) -> list[str]:
    """Return jieba's pieces of ``text``; a run longer than MAX_RUN is cut into MAX_RUN pieces."""
    pieces: list[str] = []
    pos = 0
    for run in _LONG_RUN.finditer(text):
        pieces += _TOKENIZER.lcut(text[pos : run.start()])
        for start in range(run.start(), run.end(), MAX_RUN):
            pieces += _TOKENIZER.lcut(text[start : min(start + MAX_RUN, run.end())])
        pos = run.end()
    return pieces + _TOKENIZER.lcut(text[pos:])


def words(text: str) -> list[str]:
    """Segment ``text`` into jieba words, dropping stopwords and tokens without word characters.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        Words in text order, duplicates kept.
    """
    if not _state["ready"]:
        initialize()
    stop = load_stopwords()
    out = []
    for word in _join_compounds(_segment((text or "").lower())):
        word = word.strip()
        if word and word not in stop and _WORD_CHAR.search(word):
            out.append(word)
    return out


def analyze(text: str) -> list[str]:
    """Return the tokens stored for ``text``: words, character unigrams and bigrams.

    Parameters
    ----------
    text : str
        A demand, a project title, a profile field.

    Returns
    -------
    list of str
        Prefixed tokens (``w:``, ``c:``, ``b:``) with repetitions, deterministic; empty when
        no word outside the stopwords is left (e.g. "的 了", "我公司 需求 研发").
    """
    if not text:
        return []
    if not _state["ready"]:
        initialize()
    # Boilerplate goes entirely; a space keeps the characters around it from pairing up.
    text = load_boilerplate().sub(" ", text).lower()
    stop = load_stopwords()
    tokens: list[str] = []
    for word in _join_compounds(_segment(text)):
        word = word.strip()
        if word and word not in stop and _WORD_CHAR.search(word):
            tokens.append("w:" + word)
    if not tokens:
        # Only stopwords, boilerplate or punctuation: their characters (的, 了, 研, 发 ...)
        # would match nearly every expert and say nothing about the topic.
        return []
    # Characters come from the whole text, stopwords included: dropping them breaks pairs
    # such as 研究 / 影响 that carry topic (measured: 0.384 against 0.402 nDCG@10).
    for part in _NON_WORD.split(text):
        tokens.extend("c:" + ch for ch in part)
        tokens.extend("b:" + part[i : i + 2] for i in range(len(part) - 1))
    return tokens


def expert_tokens(
    name_title: str,
    fields: str,
    summary: str,
    items: Sequence[tuple[str, str]],
) -> list[str]:
    """Build an expert's stored profile tokens with field weights.

    Parameters
    ----------
    name_title : str
        Name and title line (教授, 博导 ...); only its words are kept.
    fields : str
        Research fields or keywords; counted :data:`FIELD_REPEATS` ``["fields"]`` times.
    summary : str
        Free-text profile (biography, description).
    items : sequence of (title, text)
        Projects, patents, papers. ``text`` is the full text of the item, title included
        (the title alone when empty); the title is added ``FIELD_REPEATS["item_title"]`` more
        times (0 by default: repeating titles lost 0.003 nDCG@10 on the dev set).

    Returns
    -------
    list of str
        Tokens to store with the expert; the ranker counts repetitions as weight.
    """
    tokens = [t for t in analyze(name_title) if t.startswith("w:")] * FIELD_REPEATS["name_title"]
    tokens += analyze(fields) * FIELD_REPEATS["fields"]
    tokens += analyze(summary) * FIELD_REPEATS["summary"]
    for title, text in items:
        body = text or title
        tokens += analyze(body) * FIELD_REPEATS["item_text"]
        if title and FIELD_REPEATS["item_title"]:
            tokens += analyze(title) * FIELD_REPEATS["item_title"]
    return tokens


def join_tokens(tokens: Sequence[str]) -> str:
    """Join tokens into one string for a text column.

    Parameters
    ----------
    tokens : sequence of str
        Tokens as returned by :func:`analyze`; none contains whitespace.

    Returns
    -------
    str
        Tokens separated by single spaces.
    """
    return TOKEN_SEPARATOR.join(tokens)


def split_tokens(stored: str | None) -> list[str]:
    """Split a stored token column back into the token list.

    Parameters
    ----------
    stored : str or None
        Value written by :func:`join_tokens`.

    Returns
    -------
    list of str
        The tokens, empty for an empty or missing value.
    """
    return stored.split() if stored else []


def token_type(token: str) -> str:
    """Return the type letter of a token (``w``, ``c`` or ``b``; ``w`` if unprefixed)."""
    return token[0] if len(token) > 2 and token[1] == ":" else "w"


def token_text(token: str) -> str:
    """Return the readable text of a token, without its type prefix."""
    return token[2:] if len(token) > 2 and token[1] == ":" else token


@lru_cache(maxsize=8192)
def sub_words(word: str) -> tuple[str, ...]:
    """Return the shorter dictionary words inside ``word`` (jieba's search mode), itself included.

    Explanations use it to tell a word inside a word (密度 of 面密度) from a fragment (环控 of
    闭环控制). Cached; :func:`initialize` with new terms clears the cache.
    """
    if not _state["ready"]:
        initialize()
    return tuple(w for w in _TOKENIZER.cut_for_search(word) if _WORD_CHAR.search(w))


def keyword_part(text: str) -> str:
    """Return the ``（关键词：…）`` part of a text, or an empty string."""
    match = _KEYWORDS.search(text or "")
    return match.group(1) if match else ""
