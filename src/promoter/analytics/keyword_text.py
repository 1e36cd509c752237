"""The candidate keywords of one comment, as RAKE finds them: the comment is tokenized and
each word lemmatized in its language (simplemma), stop words (stopwords-iso) and
punctuation split it into runs of content lemmas, and each run gives its phrases of one to
three lemmas ("prices are slower" and "price is slow" give the same "price" and "slow")."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from functools import cache, lru_cache

import simplemma
import stopwordsiso

#: A phrase has at most this many lemmas.
MAX_WORDS = 3
#: Comments are read up to this many characters (a long letter gives no better keywords).
MAX_CHARS = 2000
FALLBACK = "en"
#: Words stopwords-iso lists for English that feedback is about: "great support",
#: "sync problem" keep them (its English list is long, 1,298 words, search-engine style).
KEPT_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {"problem", "problems", "work", "works", "help", "useful", "use", "great", "good"}
        | {"best", "better", "value", "results", "information", "interest", "interesting"}
    ),
}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@cache
def lemmatizes(language: str) -> bool:
    """simplemma has a dictionary for the language."""
    return language in _simplemma_languages()


@cache
def _simplemma_languages() -> frozenset[str]:
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    return frozenset(SUPPORTED_LANGUAGES)


@cache
def stop_words(language: str) -> frozenset[str]:
    """The language's stop words, lower case (none for a language stopwords-iso lacks)."""
    if not stopwordsiso.has_lang(language):
        return frozenset()
    words = {w.lower().translate(_APOSTROPHES) for w in stopwordsiso.stopwords(language)}
    return frozenset(words - KEPT_WORDS.get(language, frozenset()))


@lru_cache(maxsize=200_000)
def _lemma(token: str, language: str) -> str:
    if not lemmatizes(language):
        return token.lower()
    return str(simplemma.lemmatize(token, lang=language)).lower()


def _is_word(token: str) -> bool:
    return len(token) > 1 and any(ch.isalpha() for ch in token)


def runs(text: str, language: str) -> list[list[str]]:
    """The comment's runs of content lemmas, in order: stop words, punctuation, numbers
    and single letters end a run."""
    stops = stop_words(language)
    found: list[list[str]] = []
    run: list[str] = []
    for raw in simplemma.simple_tokenizer(text[:MAX_CHARS]):
        token = raw.translate(_APOSTROPHES)
        lower = token.lower()
        lemma = _lemma(token, language) if _is_word(token) and lower not in stops else ""
        if lemma and lemma not in stops:
            run.append(lemma)
        elif run:
            found.append(run)
            run = []
    if run:
        found.append(run)
    return found


def phrases(text: str, language: str) -> tuple[str, ...]:
    """Every phrase of one to MAX_WORDS lemmas in a run of the comment, lemmas joined by a
    space: each once, sorted, interned (comments share their phrases' strings)."""
    found: set[str] = set()
    for run in runs(text, language):
        for size in range(1, MAX_WORDS + 1):
            for start in range(len(run) - size + 1):
                found.add(" ".join(run[start : start + size]))
    return tuple(sorted(sys.intern(phrase) for phrase in found))


def parts(phrase: str) -> list[str]:
    """The shorter phrases inside ``phrase`` ("price increase" -> "price", "increase")."""
    words = phrase.split(" ")
    return [
        " ".join(words[start : start + size])
        for size in range(1, len(words))
        for start in range(len(words) - size + 1)
    ]


class PhraseCache:
    """The phrases of comments already read, by response id, so a question asked again
    lemmatizes only the new or edited comments (a comment is known by a hash of its text
    and language); at most ``size`` comments, least recently used dropped first. Shared by
    the threads of one process."""

    def __init__(self, size: int = 200_000) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._found: OrderedDict[int, tuple[int, tuple[str, ...]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._found)

    def phrases(self, response_id: int, text: str, language: str) -> tuple[str, ...]:
        known = hash((text, language))
        with self._lock:
            held = self._found.get(response_id)
            if held is not None and held[0] == known:
                self._found.move_to_end(response_id)
                return held[1]
        found = phrases(text, language)
        with self._lock:
            self._found[response_id] = (known, found)
            self._found.move_to_end(response_id)
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        return found
