"""Parameter and FLOP counts of the transformers our trainer builds (Kaplan et al. 2020 conventions).

N is the **non-embedding** parameter count (Kaplan et al. 2020, arXiv:2001.08361, section 2.1):
every weight except the token and position embeddings (the LM head is tied to the token
embedding, so it is not counted either). Training FLOPs per token are
``6 * N + 6 * n_layer * n_ctx * d_model`` (forward ``2N + 2 n_layer n_ctx d_attn``, backward
twice that), so a run of D tokens costs ``C = flops_per_token * D`` ~ ``6 N D``.

**The LM head is not in** ``flops_per_token`` (Kaplan's convention, kept because our logs'
``flops`` column was written with it). The tied head is a ``vocab x d_model`` matmul on every
position all the same: forward ``2 vocab d_model`` FLOPs per token, backward twice that, so
``head_flops_per_token = 6 * vocab * d_model`` and ``flops_per_token_with_head`` is the total a
training step really costs. For small models it is most of the compute (vocab 1024, d_model 32,
2 layers, n_ctx 128: 6N = 148k, attention 49k, head 197k FLOPs per token), and leaving it out
makes compute-optimal fits wrong: Porian et al. 2024, "Resolving Discrepancies in
Compute-Optimal Scaling of Language Models" (arXiv:2406.19146) trace much of the Kaplan /
Chinchilla disagreement to last-layer FLOPs left out of C. ``scalelaw.read_logs`` derives a
``flops_with_head`` column from our trainer's log headers (``n_tokens * flops_per_token_with_head``).

The counts are exact for the trainer's modules (``scalelaw.train.model``): pre-LN blocks,
LayerNorm with a weight (and a bias when ``bias=True``), attention ``4 d^2``, MLP ``2 d d_ff``.
The trainer's tests check that these formulas equal ``sum(p.numel())`` of the real modules.
"""

from __future__ import annotations

__all__ = ["count_params"]


def _block(d_model: int, d_ff: int, bias: bool, cross_attention: bool = False) -> int:
    ln = d_model * (2 if bias else 1)
    attn = 4 * d_model * d_model + (4 * d_model if bias else 0)
    mlp = 2 * d_model * d_ff + ((d_ff + d_model) if bias else 0)
    n = 2 * ln + attn + mlp
    if cross_attention:
        n += ln + attn
    return n


def count_params(
    n_layer: int | None = None,
    d_model: int = 0,
    vocab: int = 256,
    *,
    d_ff: int | None = None,
    n_ctx: int = 1024,
    bias: bool = False,
    learned_pos: bool = True,
    n_enc_layer: int | None = None,
    n_dec_layer: int | None = None,
) -> dict:
    """Non-embedding parameters N, total parameters and training FLOPs per token.

    Decoder-only: give ``n_layer``. Encoder-decoder: give ``n_enc_layer`` and ``n_dec_layer``
    (decoder blocks add cross-attention); the result then also has ``N_e`` and ``N_d``.

    Returns a dict with ``N`` (non-embedding), ``N_total``, ``embedding``, ``flops_per_token``
    (training, forward + backward: ``6 N`` + attention, Kaplan's count, no LM head),
    ``head_flops_per_token`` (the tied LM head: ``6 vocab d_model``; for an encoder-decoder, per
    decoder position) and ``flops_per_token_with_head`` (their sum: what a token costs), plus
    ``N_e``/``N_d`` for encoder-decoders.

    Examples
    --------
    >>> count_params(n_layer=2, d_model=128, vocab=256)["N"]
    393856
    >>> c = count_params(n_layer=2, d_model=32, vocab=1024, n_ctx=128)
    >>> c["flops_per_token"], c["head_flops_per_token"], c["flops_per_token_with_head"]
    (197568, 196608, 394176)
    """
    for name, value in (("d_model", d_model), ("vocab", vocab), ("n_ctx", n_ctx)):
        if not _whole(value) or value <= 0:
            raise ValueError(f"count_params: {name} must be a positive integer, got {value!r}")
    d_ff = 4 * d_model if d_ff is None else d_ff
    final_ln = d_model * (2 if bias else 1)
    embedding = vocab * d_model + (n_ctx * d_model if learned_pos else 0)
    # the tied head: logits = h @ W_emb^T, 2 V d forward, 4 V d backward (input and weight grads)
    head = 6 * vocab * d_model
    encdec = n_enc_layer is not None or n_dec_layer is not None
    if encdec:
        if n_layer is not None:
            raise ValueError("count_params: give n_layer (decoder-only) or n_enc_layer/n_dec_layer, not both")
        if n_enc_layer is None or n_dec_layer is None or n_enc_layer < 1 or n_dec_layer < 1:
            raise ValueError("count_params: an encoder-decoder needs n_enc_layer >= 1 and n_dec_layer >= 1")
        n_e = n_enc_layer * _block(d_model, d_ff, bias) + final_ln
        n_d = n_dec_layer * _block(d_model, d_ff, bias, cross_attention=True) + final_ln
        n = n_e + n_d
        # Decoder positions attend over their own context and the encoder's (same length here).
        attn_flops = 6 * (n_enc_layer + 2 * n_dec_layer) * n_ctx * d_model
        # Encoder and decoder share one token embedding; each side has its own positions.
        embedding = vocab * d_model + (2 * n_ctx * d_model if learned_pos else 0)
        return {
            "N": n, "N_e": n_e, "N_d": n_d, "N_total": n + embedding,
            "embedding": embedding, "flops_per_token": 6 * n + attn_flops,
            "head_flops_per_token": head, "flops_per_token_with_head": 6 * n + attn_flops + head,
        }
    if n_layer is None or not _whole(n_layer) or n_layer < 1:
        raise ValueError(f"count_params: n_layer must be a positive integer, got {n_layer!r}")
    n = n_layer * _block(d_model, d_ff, bias) + final_ln
    flops = 6 * n + 6 * n_layer * n_ctx * d_model
    return {
        "N": n,
        "N_total": n + embedding,
        "embedding": embedding,
        "flops_per_token": flops,
        "head_flops_per_token": head,
        "flops_per_token_with_head": flops + head,
    }


def _whole(value) -> bool:
    """True for an integer-valued number (1, 2.0, np.int64(3)); False for text, bools, None, 1.5."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__index__"):
        return False
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False
