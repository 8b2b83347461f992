"""A lean all-MiniLM-L6-v2 encoder whose vector for a text depends on that text alone.

``transformers``' BERT, run on a padded batch, gives a text a vector that depends (in the last bits) on the other
texts of its batch: the matrix products run over ``batch x padded length`` rows, and the CPU kernels reduce in an
order that depends on that shape. A cache of such vectors then makes a run depend on what was embedded before
(a resumed run, a cleared cache, another batch order). :class:`MiniLMEncoder` computes the same network (BERT
embeddings, 6 post-LayerNorm encoder layers, mean pooling, L2 normalisation) so that each text is its own
unpadded sequence: texts of one token count are stacked and every linear layer is one matrix product *per text*
(``baddbmm``), so a text's vector is the same whatever else is embedded with it, and on one torch thread (set
here for the call), whatever the caller's thread count. It reads ``tokenizer.json`` and ``model.safetensors``
with ``tokenizers`` and ``safetensors`` and never imports ``transformers`` (about 2 s of start-up saved).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

ENCODER_VERSION = "minilm-per-text-v1"  # bump when the arithmetic below changes (keys the persistent store)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread (restoring the caller's count after)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _linear(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x [B, T, K] @ weight_t [K, N] + bias`` as B separate matrix products (one per text)."""
    return torch.baddbmm(bias, x, weight_t.expand(x.shape[0], -1, -1))


class MiniLMEncoder:
    """``encode(texts) -> [N, hidden]`` unit vectors from an extracted sentence-transformers BERT directory."""

    def __init__(self, path: str | Path, *, max_length: int = 64, batch_size: int = 64) -> None:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: MiniLMEncoder handles BERT with gelu and absolute positions only")
        self.hidden, self.heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        self.eps, self.max_length, self.batch_size = float(config["layer_norm_eps"]), max_length, batch_size
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        w = load_file(str(path / "model.safetensors"))
        self.word, self.position = w["embeddings.word_embeddings.weight"], w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, torch.Tensor], p: str) -> tuple[torch.Tensor, ...]:
        """One encoder layer's weights, transposed for ``baddbmm``; query, key and value fused into one product."""
        qkv = [f"{p}attention.self.{name}" for name in ("query", "key", "value")]
        return (
            torch.cat([w[f"{n}.weight"] for n in qkv]).t().contiguous(), torch.cat([w[f"{n}.bias"] for n in qkv]),
            w[f"{p}attention.output.dense.weight"].t().contiguous(), w[f"{p}attention.output.dense.bias"],
            w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"],
            w[f"{p}intermediate.dense.weight"].t().contiguous(), w[f"{p}intermediate.dense.bias"],
            w[f"{p}output.dense.weight"].t().contiguous(), w[f"{p}output.dense.bias"],
            w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"],
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids with ``[CLS]`` / ``[SEP]``, truncated to ``max_length`` (as ``AutoTokenizer`` gives)."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    @torch.no_grad()
    def _same_length(self, ids: list[list[int]]) -> torch.Tensor:
        """Mean-pooled, normalised vectors of texts that all have the same token count."""
        tokens = torch.tensor(ids, dtype=torch.long)
        b, t = tokens.shape
        h, heads = self.hidden, self.heads
        x = F.layer_norm(self.word[tokens] + self.position[:t] + self.token_type, (h,), *self.norm, eps=self.eps)
        for wqkv, bqkv, wo, bo, g1, b1, wi, bi, w2, b2, g2, b22 in self.layers:
            q, k, v = _linear(x, wqkv, bqkv).view(b, t, 3, heads, h // heads).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, h)
            x = F.layer_norm(_linear(attended, wo, bo) + x, (h,), g1, b1, eps=self.eps)
            x = F.layer_norm(_linear(F.gelu(_linear(x, wi, bi)), w2, b2) + x, (h,), g2, b22, eps=self.eps)
        return F.normalize(x.mean(1), dim=-1)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm vectors ``[len(texts), hidden]``; row ``i`` depends on ``texts[i]`` only."""
        out = torch.zeros(len(texts), self.hidden)
        groups: dict[int, list[int]] = defaultdict(list)
        ids = self.token_ids(texts)
        for i, row in enumerate(ids):
            groups[len(row)].append(i)
        with one_torch_thread():
            for rows in groups.values():
                for start in range(0, len(rows), self.batch_size):
                    chunk = rows[start : start + self.batch_size]
                    out[chunk] = self._same_length([ids[i] for i in chunk])
        return out
