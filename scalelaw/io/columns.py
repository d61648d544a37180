"""Which column (or TensorBoard tag, or W&B metric) is which schema field.

Two jobs: parse a metric name into "a loss of split S in unit U" (``train/loss`` -> train,
``eval_loss`` -> val, ``val_code/loss`` -> val_code, ``Loss/train`` -> train,
``val/loss_bits`` -> val in bits), and guess the other schema columns from the names training
stacks use (``global_step``, ``learning_rate``, ``num_input_tokens_seen`` ...).

A mapping target is either a schema column name (``"step"``, ``"lr"``, ``"loss"``), a loss of
a named split written like a metric (``"val/loss"``, ``"val_code/loss"``), or ``None`` to leave
a column out. :func:`guess_columns` returns targets in exactly that form, so its answer can be
edited and passed back as ``read_logs(columns=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Columns of the tidy schema (DESIGN §4), in output order.
KEY_COLUMNS = ("run", "step", "split", "loss")
OPTIONAL_COLUMNS = (
    "n_tokens", "lr", "n_params", "n_params_total", "n_enc_params", "n_dec_params", "flops",
    "epoch", "schedule", "batch_size", "seq_len", "domain", "mix_ratio",
)
SCHEMA_COLUMNS = KEY_COLUMNS + OPTIONAL_COLUMNS
STRING_COLUMNS = ("run", "split", "schedule", "domain")
# Facts about a whole run (they repeat on every row of it); the rest vary by step.
RUN_LEVEL = ("n_params", "n_params_total", "n_enc_params", "n_dec_params", "schedule",
             "batch_size", "seq_len", "domain", "mix_ratio")

# Exact (case-insensitive) names for non-loss fields, best first: when a log has several
# (W&B + HF logs carry `_step` and `train/global_step`), the first one found wins.
_NAMES = {
    "step": ["trainer/global_step", "train/global_step", "global_step", "step", "steps",
             "iter", "iteration", "iterations", "it", "_step"],
    "n_tokens": ["n_tokens", "tokens", "num_tokens", "tokens_seen", "train/tokens",
                 "num_input_tokens_seen", "train/num_input_tokens_seen", "consumed_tokens",
                 "total_tokens", "tokens_processed", "train/tokens_seen"],
    "lr": ["lr", "learning_rate", "train/learning_rate", "train/lr", "optimizer/lr", "optim/lr",
           "trainer/lr", "learning-rate"],
    "epoch": ["epoch", "train/epoch", "epochs"],
    "flops": ["flops", "total_flops", "train/flops", "compute_flops"],
    "run": ["run", "run_name", "run_id"],
    "split": ["split"],
    "n_params": ["n_params", "non_embedding_params", "n_params_non_embedding",
                 "num_non_embedding_params"],
    "n_params_total": ["n_params_total", "total_params", "num_params_total"],
    "n_enc_params": ["n_enc_params", "encoder_params", "n_encoder_params"],
    "n_dec_params": ["n_dec_params", "decoder_params", "n_decoder_params"],
    "schedule": ["schedule", "lr_schedule"],
    "batch_size": ["batch_size", "global_batch_size"],
    "seq_len": ["seq_len", "seq_length", "sequence_length", "block_size", "context_length"],
    "domain": ["domain"],
    "mix_ratio": ["mix_ratio", "mixture_ratio", "domain_ratio"],
}
_NAME_TO_FIELD = {name: field for field, names in _NAMES.items() for name in names}
# Lightning's LearningRateMonitor logs `lr-AdamW`, `lr-SGD`, ...
_LIGHTNING_LR = re.compile(r"^lr-[A-Za-z0-9]+$")

_SPLIT_WORDS = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "eval": "val", "evaluation": "val",
    "dev": "val", "test": "test",
}
# words that qualify a loss without changing what it is (`lm loss`, `val/avg_loss`)
_NEUTRAL = {"lm", "ce", "xent", "nll", "avg", "mean", "cross", "entropy"}
_UNIT_WORDS = {"bits": "bits", "bit": "bits", "bpb": "bits_per_byte", "nats": "nats",
               "nat": "nats", "bpc": "bits_per_char"}
# Lightning's `on_step` / `on_epoch` variants of one metric
_AGGREGATES = {"step", "epoch"}
_COMPANION = re.compile(r"__(min|max)$", re.IGNORECASE)


@dataclass(frozen=True)
class LossName:
    """A metric name read as a loss: its split (None when the name names none), the unit its
    name claims (None when it claims none) and Lightning's aggregate suffix if any."""

    split: str | None
    unit: str | None = None
    aggregate: str | None = None


def _tokens(name: str) -> list[str]:
    # camelCase -> camel_case, so `valLoss` reads like `val_loss`
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return [t for t in re.split(r"[/_\-.:\s]+", spaced.lower()) if t]


def _split_from(words: list[str]) -> str | None | bool:
    """Split named by ``words``: a name, None for no words, False when they are not a split."""
    words = [w for w in words if w not in _NEUTRAL]
    if not words:
        return None
    if words[0] not in _SPLIT_WORDS:
        return False
    return "_".join([_SPLIT_WORDS[words[0]], *words[1:]])


def parse_loss_name(name: str) -> LossName | None:
    """Read a metric name as a loss, or return None when it is not one.

    Examples
    --------
    >>> parse_loss_name("eval_loss")
    LossName(split='val', unit=None, aggregate=None)
    >>> parse_loss_name("val_code/loss").split
    'val_code'
    >>> parse_loss_name("train/loss_bits").unit
    'bits'
    >>> parse_loss_name("train/loss_scale") is None   # fp16 loss scale, not a loss
    True
    """
    if _COMPANION.search(name):
        return None
    words = _tokens(name)
    # "bits per byte" spelled out
    joined = " ".join(words).replace("bits per byte", "bpb")
    words = joined.split()
    loss_at = [i for i, w in enumerate(words) if w in ("loss", "bpb")]
    if not loss_at:
        return None
    i = loss_at[0]
    unit = "bits_per_byte" if words[i] == "bpb" else None
    sides = []
    for side in (words[:i], words[i + 1:]):
        kept = []
        for w in side:
            if w in _UNIT_WORDS:
                unit = _UNIT_WORDS[w]
            elif w not in ("loss", "bpb"):
                kept.append(w)
        sides.append(kept)
    rest_before, rest_after = sides
    aggregate = rest_after.pop() if rest_after and rest_after[-1] in _AGGREGATES else None
    if aggregate is None and rest_before and rest_before[0] in ("epoch", "batch"):
        # Keras' TensorBoard callback: `epoch_loss` / `batch_loss` (split from the directory)
        aggregate = "epoch" if rest_before.pop(0) == "epoch" else "step"
    before = _split_from(rest_before)
    after = _split_from(rest_after)
    if before is False or after is False or (before and after):
        return None  # `aux_loss`, `loss_scale`: a different quantity
    return LossName(split=before or after, unit=unit, aggregate=aggregate)


def split_word(word: str) -> str | None:
    """Canonical split for a word such as ``validation`` or ``train`` (None if not one)."""
    return _SPLIT_WORDS.get(word.strip().lower())


def field_of(name: str) -> str | None:
    """Schema field a non-loss column name means, or None."""
    key = name.strip().lower()
    if key in _NAME_TO_FIELD:
        return _NAME_TO_FIELD[key]
    if _LIGHTNING_LR.match(name.strip()):
        return "lr"
    return None


def _priority(name: str, field: str) -> int:
    key = name.strip().lower()
    names = _NAMES.get(field, [])
    return names.index(key) if key in names else len(names)


def loss_target(split: str | None) -> str:
    """The mapping target for a loss of ``split``: ``"val/loss"``, or ``"loss"`` if unnamed."""
    return "loss" if split is None else f"{split}/loss"


def parse_target(target: str) -> tuple[str, str | None]:
    """Read a mapping target: ``("loss", split)`` for losses, ``(field, None)`` otherwise.

    ``"loss"`` gives split None (taken from the source name or the ``split`` argument);
    ``"val/loss"`` gives split ``"val"``. Any other string is a column name kept as it is.
    """
    if target == "loss":
        return "loss", None
    parsed = parse_loss_name(target)
    if parsed is not None and target.endswith("loss") and parsed.split is not None:
        return "loss", parsed.split
    return target, None


def _loss_rank(name: str, parsed: LossName) -> int:
    # For one split, prefer the per-step value: Lightning's `train_loss_step` over the epoch
    # mean `train_loss_epoch`; a name with no unit marker over `loss_bits` twins.
    rank = 0
    if parsed.aggregate == "epoch":
        rank += 2 if (parsed.split or "train").startswith("train") else 1
    if parsed.aggregate == "step" and not (parsed.split or "train").startswith("train"):
        rank += 2
    if parsed.unit not in (None, "nats"):
        rank += 4
    return rank


def guess_columns(df_or_columns) -> dict[str, str]:
    """Guess the schema field of each column from its name.

    Parameters
    ----------
    df_or_columns : DataFrame or iterable of str
        A table (its columns are used) or the column names themselves.

    Returns
    -------
    dict
        Column name -> target, only for columns recognised: a schema field (``"step"``,
        ``"lr"``, ``"n_tokens"`` ...), ``"<split>/loss"`` for a loss whose name gives its split,
        or ``"loss"`` for a loss that names none (``read_logs`` then uses its ``split``
        argument, default ``"train"``). When several columns could fill one field (``_step`` and
        ``train/global_step``; ``train_loss_step`` and ``train_loss_epoch``) only the best is
        returned. W&B ``__MIN``/``__MAX`` companions are never returned. The result can be
        edited and passed as ``read_logs(..., columns=result)``.

    Examples
    --------
    >>> guess_columns(["global_step", "eval_loss", "learning_rate", "grad_norm"])
    {'global_step': 'step', 'eval_loss': 'val/loss', 'learning_rate': 'lr'}
    """
    columns = list(getattr(df_or_columns, "columns", df_or_columns))
    best: dict[str, tuple[int, int, str]] = {}  # target -> (rank, position, column)
    for position, column in enumerate(columns):
        name = str(column)
        parsed = parse_loss_name(name)
        if parsed is not None:
            target, rank = loss_target(parsed.split), _loss_rank(name, parsed)
        else:
            field = field_of(name)
            if field is None:
                continue
            target, rank = field, _priority(name, field)
        if target not in best or (rank, position) < best[target][:2]:
            best[target] = (rank, position, name)
    chosen = sorted(best.items(), key=lambda item: item[1][1])
    return {column: target for target, (_, _, column) in chosen}


def check_mapping(columns: Mapping | None) -> dict[str, str | None]:
    """Validate the user's ``columns=`` argument and return it as a plain dict."""
    if columns is None:
        return {}
    if not isinstance(columns, Mapping):
        raise TypeError("columns= must be a mapping {your column: schema column}, e.g. "
                        "{'global_step': 'step', 'eval_loss': 'loss'}")
    out = {}
    for source, target in columns.items():
        if target is not None and not isinstance(target, str):
            raise TypeError(f"columns[{source!r}] must be a column name or None, got {target!r}")
        out[str(source)] = target
    return out

