"""Fixed-length (input, target) windows over a stream of token ids."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TokenWindows(Dataset):
    """Item ``i`` is ``(tokens[s:s+n], tokens[s+1:s+n+1])`` with ``s = i * stride``.

    The target is the input shifted by one token: next-token prediction at every position.
    """

    def __init__(self, tokens: torch.Tensor, seq_len: int, stride: int | None = None) -> None:
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be a 1-D tensor of ids; got shape {tuple(tokens.shape)}")
        if seq_len < 1:
            raise ValueError(f"seq_len must be a positive int; got {seq_len!r}")
        self.tokens = tokens
        self.seq_len = seq_len
        self.stride = stride or seq_len
        self.count = max(0, (len(tokens) - seq_len - 1) // self.stride + 1)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(f"window index {index} out of range for {self.count} windows")
        start = index * self.stride
        chunk = self.tokens[start : start + self.seq_len + 1]
        return chunk[:-1], chunk[1:]
