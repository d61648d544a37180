"""Hugging Face ``trainer_state.json``.

``log_history`` is a list of dicts, each with ``step`` and ``epoch``: training entries carry
``loss`` (and ``learning_rate``, ``grad_norm``), evaluation entries ``eval_loss`` (or
``eval_<dataset>_loss`` with several eval sets), and the last entry written by ``train()`` is a
summary (``train_runtime``, ``train_loss`` = mean over the whole run, ``total_flos``), which is
not a point on the curve. The other top-level keys (``global_step``, ``max_steps``,
``train_batch_size`` per device, ...) go to the run's header.

Run facts HF does not log come from the configs beside the checkpoint (see
:mod:`scalelaw.io.sidecar`): N from the model's ``config.json`` (:func:`model_params`), and
tokens per step = ``train_batch_size`` x ``gradient_accumulation_steps`` x devices x sequence
length (``max_seq_length``/``block_size``/``seq_len`` in a config, else the model's context
length, said in a warning), so ``n_tokens = step x tokens per step``.
"""

from __future__ import annotations

import json

from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tabular import keep_nonfinite, records_table
from scalelaw.io.tidy import table_to_tidy

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second")


def load_state(source: Source) -> dict:
    if source.json is None:
        try:
            source.json = json.loads(source.read_text(), parse_constant=keep_nonfinite)
        except ValueError as err:
            raise NotALog(f"{source.name}: not valid JSON ({err})") from None
    state = source.json
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise NotALog(f"{source.name}: no 'log_history' list (expected a Hugging Face "
                      "trainer_state.json)")
    return state


def is_summary(entry: dict) -> bool:
    """The end-of-training summary entry (not a training point)."""
    return any(key in entry for key in _SUMMARY_KEYS)


def read(source: Source, opts: Options, report: Report) -> Parsed:
    state = load_state(source)
    history = state["log_history"]
    entries = [e for e in history if isinstance(e, dict) and not is_summary(e)]
    odd = sum(not isinstance(e, dict) for e in history)
    if odd:
        report.skip(f"{source.name}: {odd} log_history items are not objects; skipped")
    if not entries:
        raise NotALog(f"{source.name}: log_history holds no logged steps")
    # HF's bare `loss` is always the training loss, whatever other splits are called
    parsed = table_to_tidy(records_table(entries), source.name, opts, report,
                           default_split="train")
    header = {k: v for k, v in state.items() if k != "log_history"}
    parsed.headers[None] = header
    parsed.combine = lambda facts, configs, rep: combine(header, facts, configs, source.name, rep)
    return parsed


# model_type of HF configs whose MLP is gated (SwiGLU/GeGLU: three d x d_ff matrices, not two)
GATED = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "olmo", "olmo2",
         "phi3", "cohere", "granite"}


def _first(config: dict, *keys):
    for key in keys:
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return value
    return None


def model_params(config: dict) -> tuple[int | None, str]:
    """Non-embedding parameters of a decoder from its HF ``config.json``, and why not if None.

    Kaplan et al. 2020's count: the attention (q, k, v, o; grouped-query heads counted as
    such) and MLP weights of every layer, without embeddings, norms or biases.
    """
    if config.get("is_encoder_decoder") or "num_decoder_layers" in config:
        return None, "an encoder-decoder config"
    if _first(config, "num_local_experts", "num_experts", "n_routed_experts"):
        return None, "a mixture-of-experts config"
    layers = _first(config, "n_layer", "num_hidden_layers", "num_layers")
    d = _first(config, "n_embd", "hidden_size", "d_model")
    heads = _first(config, "num_attention_heads", "n_head")
    if not (layers and d and heads):
        return None, "no layer count, width or head count"
    kv = _first(config, "num_key_value_heads") or heads
    head_dim = _first(config, "head_dim") or d / heads
    d_ff = _first(config, "n_inner", "intermediate_size", "ffn_dim", "d_ff") or 4 * d
    attention = 2 * d * heads * head_dim + 2 * d * kv * head_dim
    mlp = (3 if config.get("model_type") in GATED else 2) * d * d_ff
    return int(round(layers * (attention + mlp))), ""


def combine(header: dict, facts: dict, configs: list, name: str, report: Report) -> dict:
    """N from the model's ``config.json``, and the batch shape (so ``n_tokens``) from
    ``train_batch_size`` (per device) x gradient accumulation x devices and the sequence length,
    where the logs and sidecars do not give them."""
    facts = dict(facts)
    models = [(n, c) for n, c in configs if "model_type" in c or "architectures" in c]
    if "n_params" not in facts and models:
        where, model = models[0]
        n, why = model_params(model)
        if n:
            facts["n_params"] = n
        else:
            report.skip(f"{where}: n_params not derived ({why}); pass metadata={{run: {{'n_params': ...}}}}")
    if "tokens_per_step" in facts or "batch_size" in facts or not _first(header, "train_batch_size"):
        return facts

    def setting(*keys):
        return next((v for _, c in configs if (v := _first(c, *keys))), None)

    seq = facts.get("seq_len") or setting("max_seq_length", "max_seq_len", "max_length")
    if not seq and models:
        seq = _first(models[0][1], "n_positions", "max_position_embeddings")
        if seq:
            report.skip(f"{name}: seq_len = {seq:g} taken from {models[0][0]} (the model's context "
                        "length); pass seq_len= if training used shorter sequences")
    if not seq:
        return facts
    accum = setting("gradient_accumulation_steps")
    devices = setting("world_size", "n_gpu", "num_processes", "num_devices")
    if accum is None or devices is None:
        assumed = [w for w, v in (("gradient_accumulation_steps = 1", accum), ("one device", devices)) if v is None]
        report.skip(f"{name}: tokens per step = train_batch_size x sequence length assuming "
                    f"{' and '.join(assumed)} (no config says); pass batch_size= (sequences per step) if not")
    facts["batch_size"] = int(header["train_batch_size"] * (accum or 1) * (devices or 1))
    facts["seq_len"] = int(seq)
    return facts


def global_step(source: Source) -> int:
    """How far the run got (to pick the newest of several checkpoint copies)."""
    state = load_state(source)
    steps = [e.get("step", 0) for e in state["log_history"] if isinstance(e, dict)]
    return int(max([state.get("global_step") or 0, *[s for s in steps if isinstance(s, int)]]))
