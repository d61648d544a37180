"""TensorBoard event files (``events.out.tfevents.*``), read without TensorFlow or tensorboard.

Every scalar event is kept: tensorboard's ``EventAccumulator`` keeps a reservoir sample of 10,000
points per tag by default, which thins long curves. The file is TFRecord-framed
(:mod:`scalelaw.io.tfrecord`); each record is an ``Event`` protobuf, decoded here with a minimal
wire-format reader of the fields we need::

    Event        wall_time=1 double, step=2 int64, summary=5 Summary
    Summary      value=1 repeated Value
    Value        tag=1 string, simple_value=2 float, tensor=8 TensorProto,
                 metadata=9 SummaryMetadata{plugin_data=1 PluginData{plugin_name=1}}
    TensorProto  dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6,
                 int_val=7, int64_val=10, half_val=13

Scalars come as ``simple_value`` (torch's ``SummaryWriter``, TF1) or as a rank-0 tensor (TF2's
``tf.summary.scalar``, whose plugin metadata appears on a tag's first event only). Tags are
read like column names (``train/loss`` -> split train, ``lr`` -> lr ...). A tag with no split,
in a directory named ``train``/``validation`` (Keras writes those), takes its split from the
directory.
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from scalelaw.io import roles as roles_mod
from scalelaw.io import tfrecord
from scalelaw.io.columns import split_word
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tidy import join_fields, require

_FLOAT = struct.Struct("<f").unpack_from
_DOUBLE = struct.Struct("<d").unpack_from
# TensorProto dtype -> struct code of one element in tensor_content
_CONTENT = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 19: "<e"}
_DT_BFLOAT16, _DT_HALF = 14, 19


def _varint(buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _skip(buf, pos: int, wire: int) -> int:
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        length, pos = _varint(buf, pos)
        return pos + length
    if wire == 5:
        return pos + 4
    raise ValueError(f"unsupported protobuf wire type {wire}")


def _key(buf, pos: int) -> tuple[int, int]:
    key = buf[pos]
    if key < 0x80:
        return key, pos + 1
    return _varint(buf, pos)


def _plugin_name(buf, pos: int, end: int) -> str | None:
    """SummaryMetadata.plugin_data.plugin_name."""
    while pos < end:
        key, pos = _key(buf, pos)
        if key == 0x0A:  # plugin_data
            length, pos = _varint(buf, pos)
            inner, inner_end = pos, pos + length
            while inner < inner_end:
                k, inner = _key(buf, inner)
                if k == 0x0A:
                    n, inner = _varint(buf, inner)
                    return bytes(buf[inner:inner + n]).decode("utf-8", "replace")
                inner = _skip(buf, inner, k & 7)
            pos = inner_end
        else:
            pos = _skip(buf, pos, key & 7)
    return None


def _packed(buf, pos: int, end: int, code: str, size: int) -> list:
    count = (end - pos) // size
    return list(struct.unpack_from(f"<{count}{code[1]}", buf, pos))


def _varints(buf, pos: int, end: int) -> list[int]:
    out = []
    while pos < end:
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


def _tensor_scalar(buf, pos: int, end: int) -> float | None:
    """The value of a rank-0 (or single-element) numeric TensorProto, else None."""
    dtype, elements, content, n_dims = 0, [], None, 0
    while pos < end:
        key, pos = _key(buf, pos)
        wire = key & 7
        field = key >> 3
        if field == 1 and wire == 0:
            dtype, pos = _varint(buf, pos)
        elif field == 2 and wire == 2:  # tensor_shape: count dims that are not size 1
            length, pos = _varint(buf, pos)
            shape_end = pos + length
            while pos < shape_end:
                k, pos = _key(buf, pos)
                if k == 0x12:  # dim
                    n, pos = _varint(buf, pos)
                    dim_end = pos + n
                    size = 1
                    while pos < dim_end:
                        kk, pos = _key(buf, pos)
                        if kk == 0x08:
                            size, pos = _varint(buf, pos)
                        else:
                            pos = _skip(buf, pos, kk & 7)
                    n_dims += size != 1
                else:
                    pos = _skip(buf, pos, k & 7)
        elif field == 4 and wire == 2:
            length, pos = _varint(buf, pos)
            content = (pos, pos + length)
            pos += length
        elif field in (5, 6) and wire == 2:  # packed float_val / double_val
            length, pos = _varint(buf, pos)
            elements += _packed(buf, pos, pos + length, "<f" if field == 5 else "<d",
                                4 if field == 5 else 8)
            pos += length
        elif field == 5 and wire == 5:
            elements.append(_FLOAT(buf, pos)[0])
            pos += 4
        elif field == 6 and wire == 1:
            elements.append(_DOUBLE(buf, pos)[0])
            pos += 8
        elif field in (7, 10, 13) and wire == 2:  # packed int_val / int64_val / half_val
            length, pos = _varint(buf, pos)
            elements += _varints(buf, pos, pos + length)
            pos += length
        elif field in (7, 10, 13) and wire == 0:
            value, pos = _varint(buf, pos)
            elements.append(value)
        else:
            pos = _skip(buf, pos, wire)
    if n_dims:
        return None
    if content is not None and dtype in _CONTENT:
        start, stop = content
        code = _CONTENT[dtype]
        if stop - start != struct.calcsize(code):
            return None
        return float(struct.unpack_from(code, buf, start)[0])
    if len(elements) != 1:
        return None
    value = elements[0]
    if dtype == _DT_HALF:  # half_val holds the 16 raw bits
        return float(struct.unpack("<e", struct.pack("<H", value & 0xFFFF))[0])
    if dtype == _DT_BFLOAT16:
        return float(struct.unpack("<f", struct.pack("<I", (value & 0xFFFF) << 16))[0])
    if dtype in (3, 9):
        return float(value - (1 << 64) if value >= 1 << 63 else value)
    if dtype in (1, 2):
        return float(value)
    return None


def decode(buf, spans, report: Report, name: str):
    """Scalars of every event: lists of step, tag and value, in file order."""
    steps, tags, values = [], [], []
    plugin_of: dict[str, str | None] = {}
    tag_cache: dict[bytes, str] = {}
    bad, first_bad = 0, None
    varint, key_of, skip, unpack_float = _varint, _key, _skip, _FLOAT
    for start, end in spans:
        try:
            pos, step, summaries = start, 0, []
            while pos < end:
                key = buf[pos]
                pos += 1
                if key == 0x09:      # wall_time (unused)
                    pos += 8
                elif key == 0x10:    # step
                    step, pos = varint(buf, pos)
                elif key == 0x2A:    # summary
                    length, pos = varint(buf, pos)
                    summaries.append((pos, pos + length))
                    pos += length
                else:
                    if key >= 0x80:
                        key, pos = varint(buf, pos - 1)
                    pos = skip(buf, pos, key & 7)
            if pos != end:
                raise ValueError("event overruns its record")
            if not summaries:
                continue
            if step >= 1 << 63:
                step -= 1 << 64
            for s_pos, s_end in summaries:
                while s_pos < s_end:
                    key, s_pos = key_of(buf, s_pos)
                    if key != 0x0A:  # Summary.value
                        s_pos = skip(buf, s_pos, key & 7)
                        continue
                    length, s_pos = varint(buf, s_pos)
                    v_pos, v_end = s_pos, s_pos + length
                    s_pos = v_end
                    tag, value, tensor, plugin = None, None, None, None
                    while v_pos < v_end:
                        key = buf[v_pos]
                        v_pos += 1
                        if key == 0x0A:    # tag
                            n, v_pos = varint(buf, v_pos)
                            raw = buf[v_pos:v_pos + n]
                            tag = tag_cache.get(raw)
                            if tag is None:
                                tag = tag_cache[raw] = bytes(raw).decode("utf-8", "replace")
                            v_pos += n
                        elif key == 0x15:  # simple_value
                            value = unpack_float(buf, v_pos)[0]
                            v_pos += 4
                        elif key == 0x42:  # tensor
                            n, v_pos = varint(buf, v_pos)
                            tensor = (v_pos, v_pos + n)
                            v_pos += n
                        elif key == 0x4A:  # metadata
                            n, v_pos = varint(buf, v_pos)
                            plugin = _plugin_name(buf, v_pos, v_pos + n)
                            v_pos += n
                        else:
                            if key >= 0x80:
                                key, v_pos = varint(buf, v_pos - 1)
                            v_pos = skip(buf, v_pos, key & 7)
                    if tag is None:
                        continue
                    if plugin is not None and tag not in plugin_of:
                        plugin_of[tag] = plugin
                    if value is None and tensor is not None and \
                            plugin_of.get(tag, "scalars") == "scalars":
                        value = _tensor_scalar(buf, *tensor)
                    if value is not None:
                        steps.append(step)
                        tags.append(tag)
                        values.append(value)
        except (IndexError, ValueError, struct.error):
            bad += 1
            first_bad = start - 12 if first_bad is None else first_bad
    if bad:
        report.skip(f"{name}: {bad} events could not be decoded (first at byte {first_bad}); "
                    "skipped")
    return steps, tags, values


def read(source: Source, opts: Options, report: Report) -> Parsed:
    buf = source.read_bytes()
    if not buf:
        raise NotALog(f"{source.name}: empty file")
    spans, problem = tfrecord.records(buf, verify=opts.verify_crc)
    if problem is not None:
        kept = f"kept the {len(spans)} records before it"
        if problem.kind == "truncated":
            report.skip(f"{source.name}: truncated at byte {problem.offset} of {len(buf)} "
                        f"({problem.detail}; was the writer still running or killed?); {kept}")
        else:
            report.skip(f"{source.name}: corrupt record at byte {problem.offset} "
                        f"({problem.detail}); {kept}, skipped the rest")
    steps, tags, values = decode(buf, spans, report, source.name)
    long = pd.DataFrame({"step": np.asarray(steps, dtype="int64"),
                         "tag": pd.Categorical(tags),
                         "value": np.asarray(values, dtype="float64")})
    names = list(long["tag"].cat.categories)
    opts.seen.update(set(names) & set(opts.columns))
    directory = source.path.parent.name if source.path is not None else ""
    roles = roles_mod.resolve(names, source.name, opts, report,
                              default_split=split_word(directory), long_form_ok=False)
    if not names:
        raise NotALog(f"{source.name}: no scalar events")
    require(roles, names, source.name, need_step=False)
    long["_row"] = np.arange(len(long))
    tag = long["tag"]
    is_loss = tag.isin(list(roles.losses)).to_numpy()
    losses = long[is_loss]
    loss_tags = losses["tag"].astype("object")
    split = loss_tags.map({t: loss.split for t, loss in roles.losses.items()})
    factor = loss_tags.map({t: loss.factor for t, loss in roles.losses.items()})
    out = pd.DataFrame({"step": losses["step"].to_numpy(), "split": split.to_numpy(),
                        "loss": losses["value"].to_numpy() * factor.to_numpy(dtype="float64"),
                        "_row": losses["_row"].to_numpy()})
    for name, target in roles.fields.items():
        series = long[(tag == name).to_numpy()]
        fields = pd.DataFrame({"step": series["step"].to_numpy(),
                               target: series["value"].to_numpy()})
        out = join_fields(out, fields, ["step"])
    return Parsed(out, columns=roles.mapping())
