"""Word-level vocabulary for the demo corpus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Vocabulary:
    """Maps the corpus's words (and ``<eos>``, ``<unk>``) to ids and back.

    The corpus already separates punctuation with spaces, so a word is whatever lies between
    spaces. Each line (a paragraph) ends with ``<eos>``. Ids are assigned in sorted order, so
    the same text always gives the same vocabulary.
    """

    EOS = "<eos>"
    UNK = "<unk>"

    def __init__(self, words: Iterable[str]) -> None:
        specials = [self.EOS, self.UNK]
        self.words: list[str] = specials + sorted(set(words) - set(specials))
        self.ids: dict[str, int] = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        """A vocabulary of every word that occurs in ``text``."""
        return cls(text.split())

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text``: each line's words, then ``<eos>``."""
        unk = self.ids[self.UNK]
        ids: list[int] = []
        for line in text.splitlines():
            ids.extend(self.ids.get(word, unk) for word in line.split())
            ids.append(self.ids[self.EOS])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text for ``ids``: words joined by spaces, ``<eos>`` as a line break."""
        lines: list[list[str]] = [[]]
        for i in ids:
            word = self.words[int(i)]
            if word == self.EOS:
                lines.append([])
            else:
                lines[-1].append(word)
        return "\n".join(" ".join(line) for line in lines)
