"""The hostile inputs of scripts/bench_limits.py: texts, query strings and JSON an attacker sends.

scripts/ is not a package: the benchmark imports this module with scripts/ on ``sys.path``.
"""

from __future__ import annotations

import random
import sys
import urllib.parse
from collections import Counter
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: gunicorn refuses a request line over 4094 bytes (limit_request_line): the longest query
#: string a search box can send; longer ones never reach the app.
REQUEST_LINE = 4094


@lru_cache(maxsize=1)
def demo_words() -> tuple[str, ...]:
    """Return the words of the demo experts' texts (same generator and seed), rarest first."""
    from app.demo import content
    from matching import text as mtext

    df: Counter = Counter()
    for e in content.build_demo(n_experts=300).experts:
        df.update({t[2:] for t in mtext.analyze(" ".join(
            [*e.research_fields, *[f"{i.title} {i.text}" for i in e.items]]))
            if t.startswith("w:") and len(t) > 3 and not t[2:].isdigit()})
    return tuple(w for w, _n in sorted(df.items(), key=lambda kv: (kv[1], kv[0])))


def rare_terms_text(length: int, seed: int = 7) -> str:
    """Return ``length`` characters of many distinct words the expert index holds.

    The words come from the demo's own text, so each one has a posting list in the index and a
    chance to be explained; the rarest come first, then random characters fill up.
    """
    out, size = [], 0
    for w in demo_words()[seed % 50:]:  # each seed starts a little further: a new text
        if size + len(w) + 1 > length:
            break
        out.append(w)
        size += len(w) + 1
    return (" ".join(out) + " " + random_cjk(length, seed))[:length]


def random_cjk(length: int, seed: int = 11) -> str:
    """Return ``length`` random CJK characters (words no index holds)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))


def longest_query(page_path: str, char: str, extra: str = "") -> str:
    """Return the longest ``q`` of ``char`` whose request line gunicorn still accepts."""
    room = REQUEST_LINE - len(f"GET {page_path}?q=&{extra} HTTP/1.1") - 2
    step = len(urllib.parse.quote(char))
    return char * max(1, room // step)


def deep_json(depth: int) -> bytes:
    """Return ``{"text": ..., "top": [[[...]]]}`` nested ``depth`` lists deep."""
    return (b'{"text": "\xe9\x94\x82\xe7\x94\xb5\xe6\xb1\xa0", "top": ' + b"[" * depth
            + b"]" * depth + b"}")
