"""Fitted state as files of arrays, read back memory-mapped: one index shared by the processes.

A fitted ranker (or the experts' vectors) is a set of numpy arrays, sparse matrices, a few
scalars and three string collections (the vocabulary, the token table, the item titles).
:func:`save_state` writes each array as one ``.npy`` file and the strings as byte blobs with
offsets, so :func:`load_state` with ``mmap=True`` reads every array with
``np.load(mmap_mode="r")``: the pages come from the page cache and are shared by every process
of the host that maps the same files (counted once in PSS), and loading costs no copy.

The string collections are read through :class:`StringTable` and :class:`FrozenVocabulary`,
which keep no Python object per string: a lookup decodes only the strings it returns.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

__all__ = ["FrozenVocabulary", "IdLookup", "TokenIds", "StringTable", "load_state", "save_state"]

#: Width of the fixed-width keys of :class:`FrozenVocabulary`; longer tokens (rare) are kept
#: in a small dict beside them.
KEY_BYTES = 48


class StringTable:
    """Strings as one UTF-8 blob and offsets: ``table[i]`` is a str, ``table[ids]`` an array."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def build(cls, strings: Any) -> StringTable:
        """Encode a sequence of str (None is stored as the empty string)."""
        encoded = [(s or "").encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
                  out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else \
            np.zeros(0, dtype=np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def _one(self, i: int) -> str:
        if i < 0:
            i += len(self)
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.blob[lo:hi].tobytes().decode("utf-8")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self._one(int(key))
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        out = np.empty(rows.size, dtype=object)
        out[:] = [self._one(int(i)) for i in rows.ravel().tolist()]
        return out.reshape(rows.shape)

    def __iter__(self):  # noqa: ANN204 - a generator of str
        return (self._one(i) for i in range(len(self)))


class TokenIds:
    """``get`` and ``in`` of a vocabulary that maps a list of tokens to ids (-1: unknown)."""

    def ids_of(self, tokens: list[str]) -> np.ndarray:
        raise NotImplementedError

    def get(self, token: str, default: int | None = None) -> int | None:
        """Return a token's id, ``default`` when unknown."""
        i = int(self.ids_of([token])[0])
        return default if i < 0 else i

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token) is not None


class FrozenVocabulary(TokenIds):
    """A read-only token -> id mapping over sorted fixed-width byte keys (searched in numpy).

    Behaves as the ``dict`` a ranker fits (``get``, ``in``, ``[]``, ``len``) and adds
    :meth:`ids_of`, which looks up a whole query in one vectorised search.
    """

    def __init__(self, keys: np.ndarray, ids: np.ndarray, long: dict[str, int]) -> None:
        self.keys = keys  # sorted, dtype S{KEY_BYTES}
        self.ids = ids  # id of each key
        self.long = long  # tokens longer than KEY_BYTES bytes

    @classmethod
    def build(cls, vocabulary: dict[str, int]) -> FrozenVocabulary:
        """Freeze a fitted ``{token: id}`` dict."""
        short, short_ids, long = [], [], {}
        for token, i in vocabulary.items():
            raw = token.encode("utf-8")
            if len(raw) > KEY_BYTES or raw.endswith(b"\0"):
                long[token] = i
            else:
                short.append(raw)
                short_ids.append(i)
        keys = np.array(short, dtype=f"S{KEY_BYTES}")
        ids = np.array(short_ids, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], ids[order], long)

    def __len__(self) -> int:
        return int(self.keys.size) + len(self.long)

    def ids_of(self, tokens: list[str]) -> np.ndarray:
        """Return the id of each token, -1 where unknown."""
        out = np.full(len(tokens), -1, dtype=np.int64)
        if not tokens or not self.keys.size:
            return out if not self.long else self._long_ids(tokens, out)
        raw = [t.encode("utf-8") for t in tokens]
        fits = np.fromiter((len(r) <= KEY_BYTES for r in raw), dtype=bool, count=len(raw))
        query = np.array([r if f else b"" for r, f in zip(raw, fits, strict=True)],
                         dtype=f"S{KEY_BYTES}")
        at = np.minimum(np.searchsorted(self.keys, query), self.keys.size - 1)
        found = fits & (self.keys[at] == query)
        out[found] = self.ids[at[found]]
        return self._long_ids(tokens, out) if self.long else out

    def _long_ids(self, tokens: list[str], out: np.ndarray) -> np.ndarray:
        for n, t in enumerate(tokens):
            if t in self.long:
                out[n] = self.long[t]
        return out


    def __getitem__(self, token: str) -> int:
        i = self.get(token)
        if i is None:
            raise KeyError(token)
        return i


class IdLookup:
    """Row of each expert id in fit order, searched in a sorted array (no dict per process)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self.order = None if ids.size < 2 or bool(np.all(ids[1:] > ids[:-1])) else \
            np.argsort(ids, kind="stable")
        self.sorted = ids if self.order is None else ids[self.order]

    def rows(self, wanted: Any) -> np.ndarray:
        """Return the rows of the ids in ``wanted`` (unknown ids left out), in that order."""
        if not isinstance(wanted, np.ndarray):
            kinds = (int, np.integer) if self.ids.dtype.kind in "iu" else (str, np.str_)
            wanted = np.asarray([w for w in wanted if isinstance(w, kinds)
                                 and not isinstance(w, bool)])
        if not wanted.size or not self.ids.size:
            return np.zeros(0, dtype=np.int64)
        try:
            at = np.minimum(np.searchsorted(self.sorted, wanted), self.sorted.size - 1)
            hit = self.sorted[at] == wanted
        except (TypeError, np.exceptions.DTypePromotionError):  # ids of another type: none
            return np.zeros(0, dtype=np.int64)
        at = at[hit]
        return (at if self.order is None else self.order[at]).astype(np.int64)

    def get(self, eid: Any, default: int | None = None) -> int | None:
        """Return the row of one id, ``default`` when unknown."""
        rows = self.rows([eid])
        return int(rows[0]) if rows.size else default

    def __contains__(self, eid: object) -> bool:
        return self.get(eid) is not None

    def __getitem__(self, eid: Any) -> int:
        row = self.get(eid)
        if row is None:
            raise KeyError(eid)
        return row


# -- files -----------------------------------------------------------------------------------------
class _Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        # memory of an array -> its file: two fields viewing the same array share one file
        self.files: dict[tuple, str] = {}

    def array(self, name: str, value: np.ndarray) -> dict:
        face = value.__array_interface__
        key = (face["data"][0], face["shape"], face["typestr"], face.get("strides"))
        if value.size and key in self.files:
            return {"kind": "array", "file": self.files[key]}
        file = f"{name}.npy"
        np.save(self.path / file, np.ascontiguousarray(value), allow_pickle=False)
        self.files[key] = file
        return {"kind": "array", "file": file}

    def value(self, name: str, value: Any) -> dict:
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"kind": "scalar", "value": value}
        if isinstance(value, np.generic):
            return {"kind": "scalar", "value": value.item()}
        if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            return {"kind": "tuple", "value": list(value)}
        if isinstance(value, np.ndarray) and value.dtype != object:
            return self.array(name, value)
        if sparse.issparse(value):
            return {"kind": "sparse", "format": value.format, "shape": list(value.shape),
                    "data": self.array(f"{name}.data", value.data),
                    "indices": self.array(f"{name}.indices", value.indices),
                    "indptr": self.array(f"{name}.indptr", value.indptr)}
        if isinstance(value, (FrozenVocabulary, dict)) and name.startswith("vocabulary"):
            frozen = value if isinstance(value, FrozenVocabulary) else FrozenVocabulary.build(value)
            return {"kind": "vocabulary", "keys": self.array(f"{name}.keys", frozen.keys),
                    "ids": self.array(f"{name}.ids", frozen.ids), "long": frozen.long}
        if isinstance(value, dict):  # {int: ndarray of rows} (field and industry members)
            keys = sorted(value)
            sizes = [len(value[k]) for k in keys]
            rows = np.concatenate([value[k] for k in keys]) if keys else np.zeros(0, np.int64)
            return {"kind": "groups", "keys": [int(k) for k in keys],
                    "indptr": self.array(f"{name}.indptr", np.cumsum([0, *sizes])),
                    "rows": self.array(f"{name}.rows", rows.astype(np.int64))}
        if isinstance(value, StringTable) or (isinstance(value, (list, np.ndarray))
                                              and all(isinstance(s, str) for s in value)):
            table = value if isinstance(value, StringTable) else StringTable.build(value)
            return {"kind": "strings", "blob": self.array(f"{name}.blob", table.blob),
                    "offsets": self.array(f"{name}.offsets", table.offsets)}
        if isinstance(value, list):
            return self.array(name, np.asarray(value))
        if isinstance(value, IdLookup):
            return {"kind": "idlookup", "ids": self.array(f"{name}.ids", value.ids)}
        if hasattr(value, "__dict__"):  # a nested dataclass or object of arrays
            return {"kind": "object", "class": f"{type(value).__module__}:{type(value).__name__}",
                    "fields": {k: self.value(f"{name}.{k}", v) for k, v in vars(value).items()}}
        raise TypeError(f"cannot store {name} of type {type(value).__name__}")


class _Reader:
    def __init__(self, path: Path, mmap: bool) -> None:
        self.path, self.mmap = path, mmap
        self.loaded: dict[str, np.ndarray] = {}

    def array(self, spec: dict) -> np.ndarray:
        file = spec["file"]
        if file not in self.loaded:
            arr = np.load(self.path / file, mmap_mode="r" if self.mmap else None,
                          allow_pickle=False)
            # a plain ndarray over the mapping: np.memmap's per-slice bookkeeping is slow
            self.loaded[file] = arr.view(np.ndarray) if isinstance(arr, np.memmap) else arr
        return self.loaded[file]

    def value(self, spec: dict) -> Any:
        kind = spec["kind"]
        if kind == "scalar":
            return spec["value"]
        if kind == "tuple":
            return tuple(spec["value"])
        if kind == "array":
            return self.array(spec)
        if kind == "sparse":
            make = sparse.csc_array if spec["format"] == "csc" else sparse.csr_array
            out = make((self.array(spec["data"]), self.array(spec["indices"]),
                        self.array(spec["indptr"])), shape=tuple(spec["shape"]), copy=False)
            return out
        if kind == "vocabulary":
            return FrozenVocabulary(self.array(spec["keys"]), self.array(spec["ids"]),
                                    dict(spec["long"]))
        if kind == "groups":
            indptr, rows = self.array(spec["indptr"]), self.array(spec["rows"])
            return {k: rows[indptr[n]:indptr[n + 1]] for n, k in enumerate(spec["keys"])}
        if kind == "strings":
            return StringTable(self.array(spec["blob"]), self.array(spec["offsets"]))
        if kind == "idlookup":
            return IdLookup(self.array(spec["ids"]))
        if kind == "object":
            import importlib

            module, name = spec["class"].split(":")
            cls = getattr(importlib.import_module(module), name)
            obj = cls.__new__(cls)
            for k, v in spec["fields"].items():
                object.__setattr__(obj, k, self.value(v))
            return obj
        raise ValueError(f"unknown stored kind {kind!r}")


def save_state(state: dict[str, Any], path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write ``state`` (name -> value) into the directory ``path`` (created, must be new)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=False)
    writer = _Writer(path)
    fields = {name: writer.value(name, value) for name, value in state.items()}
    doc = {"fields": fields, "meta": meta or {}}
    (path / "state.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def load_state(path: str | os.PathLike, mmap: bool = True) -> tuple[dict[str, Any], dict]:
    """Read a directory written by :func:`save_state`: (name -> value, meta)."""
    path = Path(path)
    doc = json.loads((path / "state.json").read_text(encoding="utf-8"))
    reader = _Reader(path, mmap)
    return {name: reader.value(spec) for name, spec in doc["fields"].items()}, doc["meta"]
