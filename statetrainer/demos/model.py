"""The demo's StateModule: a small causal Transformer language model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import statetrainer as st


class TransformerLanguageModel(st.StateModule):
    """Predicts the next word from the previous ``seq_len`` words.

    Token and learned position embeddings, ``n_layers`` pre-norm ``nn.TransformerEncoderLayer``
    blocks under a causal mask (a position sees only itself and earlier ones), a final layer
    norm and a linear head over the vocabulary. Trained with AdamW and a linear warm-up.
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int = 32,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 30,
    ) -> None:
        """
        Args:
            vocab_size: number of word ids (from the data module)
            seq_len: longest context, in tokens
            d_model: embedding width
            n_heads: attention heads per layer
            n_layers: Transformer encoder layers
            d_ff: feed-forward width
            dropout: dropout probability in every layer
            lr: AdamW learning rate after the warm-up
            weight_decay: AdamW weight decay
            warmup_steps: optimizer steps of linear learning-rate warm-up
        """
        super().__init__()
        self.save_hyperparameters()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(seq_len, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        mask = nn.Transformer.generate_square_subsequent_mask(seq_len)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, length, vocab) for token ids of shape (batch, length)."""
        length = tokens.size(1)
        positions = torch.arange(length, device=tokens.device)
        hidden = self.embed(tokens) + self.position(positions)
        mask = self.causal_mask[:length, :length].to(hidden.dtype)
        hidden = self.encoder(hidden, mask=mask, is_causal=True)
        return self.head(self.norm(hidden))

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch
        logits = self(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.loss(batch), prog_bar=True)

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self.loss(batch))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        warmup = max(1, self.hparams.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @torch.no_grad()
    def generate(self, prompt: list[int], n_tokens: int, stop_token: int | None = None) -> list[int]:
        """Greedy continuation of ``prompt`` (token ids), at most ``n_tokens`` new ids."""
        was_training = self.training
        self.eval()
        ids = list(prompt)
        for _ in range(n_tokens):
            context = torch.tensor([ids[-self.hparams.seq_len :]], device=self.causal_mask.device)
            next_id = int(self(context)[0, -1].argmax())
            ids.append(next_id)
            if next_id == stop_token:
                break
        self.train(was_training)
        return ids
