"""ROUGE-L novelty, fast: the self-instruct filter that rejects an instruction too similar to one already in the pool.

ROUGE-L F1 of two token lists is 2·LCS / (len a + len b) (precision LCS/len b, recall LCS/len a, β = 1). rapidfuzz's
Indel normalized similarity of two strings is 1 − (len a + len b − 2·LCS) / (len a + len b): the same number. So each
word token is mapped to one Unicode character and rapidfuzz compares the strings in C, over all pairs at once
(`process.cdist`), which takes seconds where `rouge-score` takes hours for 10k × 10k.

Tokens are those of `rouge-score`'s default tokenizer (no stemmer, as Wang et al. used it): lowercase, every run of
characters other than a–z and 0–9 is a separator. Two texts with no token score 0, as in `rouge-score`.
"""

from __future__ import annotations

import re

from curation.errors import CurationError

THRESHOLD = 0.7  # Wang et al. 2022 and Alpaca: an instruction whose ROUGE-L with any earlier one is above 0.7 is dropped
NON_TOKEN = re.compile(r"[^a-z0-9]+")
SURROGATES = 0xD800


def tokens(text: str) -> list[str]:
    """`rouge_score.tokenize.tokenize(text, None)`: lowercase, split on anything that is not a letter or digit."""
    return NON_TOKEN.sub(" ", str(text).lower()).split()


class Novelty:
    """A pool of texts and the highest ROUGE-L F1 of a new text against any of them."""

    def __init__(self, texts=(), threshold: float = THRESHOLD):
        self.threshold = float(threshold)
        self.vocab: dict[str, str] = {}
        self.pool: list[str] = []
        self.texts: list[str] = []
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self.pool)

    def char(self, token: str) -> str:
        c = self.vocab.get(token)
        if c is None:
            code = len(self.vocab) + 1
            code += 0x800 if code >= SURROGATES else 0  # skip the surrogate range: not characters
            if code > 0x10FFFF:
                raise CurationError("more distinct words than Unicode has characters: split the novelty pool")
            c = self.vocab[token] = chr(code)
        return c

    def encode(self, text: str) -> str:
        return "".join(self.char(t) for t in tokens(text))

    def add(self, text: str) -> None:
        self.pool.append(self.encode(text))
        self.texts.append(str(text))

    def nearest(self, text: str) -> tuple[float, int | None]:
        """(highest ROUGE-L F1 against the pool, index of that text) — only scores at or above the threshold are
        searched for exactly; below it (0.0, None)."""
        from rapidfuzz import process
        from rapidfuzz.distance import Indel

        query = self.encode(text)
        if not query or not self.pool:
            return 0.0, None
        hit = process.extractOne(query, self.pool, scorer=Indel.normalized_similarity, processor=None,
                                 score_cutoff=self.threshold)
        return (float(hit[1]), int(hit[2])) if hit else (0.0, None)

    def is_novel(self, text: str) -> tuple[bool, float, int | None]:
        score, index = self.nearest(text)
        return score <= self.threshold, score, index  # "above 0.7" rejects, as in the reference code

    def admit(self, cand) -> bool:
        """Judge a candidate's instruction: a novel one passes "novelty" and joins the pool (later candidates are
        measured against it); otherwise the candidate is rejected with the instruction it is too close to."""
        novel, score, index = self.is_novel(cand.instruction)
        if not novel:
            cand.reason, cand.detail = "novelty", f"ROUGE-L {score:.2f} with: {self.texts[index][:120]}"
            return False
        cand.passed.append("novelty")
        self.add(cand.instruction)
        return True

    def max_scores(self, texts: list[str], workers: int = -1):
        """The highest ROUGE-L F1 of each text against the pool (scores under the threshold read 0): all at once."""
        import numpy as np
        from rapidfuzz import process
        from rapidfuzz.distance import Indel

        queries = [self.encode(t) for t in texts]
        if not self.pool or not queries:
            return np.zeros(len(queries), dtype=np.float32)
        out = np.zeros(len(queries), dtype=np.float32)
        step = 2000  # bounded memory: a block of rows of the score matrix at a time
        for start in range(0, len(queries), step):
            block = process.cdist(queries[start:start + step], self.pool, scorer=Indel.normalized_similarity,
                                  processor=None, score_cutoff=self.threshold, dtype=np.float32, workers=workers)
            out[start:start + step] = block.max(axis=1)
        out[[not q for q in queries]] = 0.0
        return out


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F1 of two texts by the same route (for tests and one-off checks)."""
    from rapidfuzz.distance import Indel

    pool = Novelty(threshold=0.0)
    x, y = pool.encode(a), pool.encode(b)
    return 0.0 if not x or not y else float(Indel.normalized_similarity(x, y))
