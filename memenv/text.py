"""Tokenizers used inside memenv: whitespace tokens for sizes, lexical terms for retrieval."""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem.porter import PorterStemmer

_TERM = re.compile(r"[a-z0-9]+")

# A short English stop list: retrieval ranks by content words; answer scoring does its own normalisation.
STOPWORDS = frozenset(
    """a an the and or but if of at by for with about to from in on into over after before is are was were be been
    being am do does did doing have has had i me my we our you your he him his she her it its they them their what
    which who whom this that these those there here when where why how all any both each few more most other some
    such no nor not only own same so than too very can will just should now s t d ll m o re ve y""".split()
)


def count_tokens(text: str) -> int:
    """Whitespace token count: the unit of the compression penalty (bank size vs dialogue size)."""
    return len(text.split())


_STEMMER = PorterStemmer()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of a lower-cased word (cached: retrieval stems the same words over and over)."""
    return _STEMMER.stem(word)


def terms(text: str) -> list[str]:
    """Lower-cased, Porter-stemmed alphanumeric terms without stop words, for BM25.

    >>> terms("Where does Alice live? She lives in Paris.")
    ['alic', 'live', 'live', 'pari']
    """
    return list(_terms(text))


@lru_cache(maxsize=100_000)
def _terms(text: str) -> tuple[str, ...]:
    # cached per text: rollouts of one conversation index, attribute and retrieve the same turns again and again
    return tuple(stem(t) for t in _TERM.findall(text.lower()) if t not in STOPWORDS)
