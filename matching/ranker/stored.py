"""A fitted ranker as a directory of arrays (:mod:`matching.array_files`), read back mapped.

``save_ranker`` writes every fitted attribute (the names ending in ``_``) and the parameters;
``load_ranker`` reads them with ``np.load(mmap_mode="r")``, so every process of a host that
loads the same directory shares one copy of the postings in the page cache. The vocabulary
comes back as a :class:`~matching.array_files.FrozenVocabulary`, the token table and the item
titles as :class:`~matching.array_files.StringTable`: no Python object per token.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from matching.array_files import load_state, save_state

#: Written into every saved ranker; a directory of another format is never loaded.
FORMAT = 1


def lookup(vocabulary: Any, tokens: list[str]) -> np.ndarray:
    """Return the id of each token (-1 where unknown) from a dict or a frozen vocabulary."""
    if hasattr(vocabulary, "ids_of"):
        return vocabulary.ids_of(tokens)
    return np.fromiter(map(vocabulary.get, tokens, repeat(-1)), dtype=np.int64,
                       count=len(tokens))


def save_ranker(ranker: Any, path: str) -> None:
    """Write a fitted ranker's arrays and parameters into the new directory ``path``."""
    state = {k: v for k, v in vars(ranker).items() if k.endswith("_") and not k.startswith("_")}
    save_state(state, path, {"format": FORMAT, "class": type(ranker).__name__,
                             "params": ranker.get_params()})


def load_ranker(cls: type, path: str, mmap: bool = True) -> Any:
    """Read a ranker written by :func:`save_ranker` (arrays memory-mapped with ``mmap``)."""
    state, meta = load_state(path, mmap)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: ranker format {meta.get('format')!r}, expected {FORMAT}")
    ranker = cls(**meta["params"])
    for name, value in state.items():
        setattr(ranker, name, value)
    return ranker
