"""Read the loss logs people have into the tidy curve schema (DESIGN §4).

>>> import scalelaw as sl
>>> df = sl.read_logs("runs/")          # doctest: +SKIP

One module per format (``tables`` for CSV/TSV/JSONL/JSON/Parquet and Lightning's CSV,
``tensorboard`` with its ``tfrecord`` framing, ``hf``, ``wandb``, ``nanogpt``, ``trainer_jsonl``);
``formats`` names them, recognises them and holds the reader of each; ``inputs`` turns paths
into logs and run names; ``read`` is :func:`read_logs`. Beside them: raw tables (``tabular``),
table to tidy rows (``tidy``, ``roles``, ``columns``), units (``units``), sidecar configs
(``sidecar``), the schema rules (``schema``), the readers' interface (``options``) and what a
read reports (``report``).
:func:`guess_columns` and :func:`columns_in` serve an app's column-mapping step. Importing
this package needs only numpy and pandas (pyarrow for Parquet, PyYAML for YAML configs, both
loaded on use); TensorBoard files are parsed without TensorFlow or tensorboard.
"""

from scalelaw.io.columns import SCHEMA_COLUMNS, guess_columns
from scalelaw.io.formats import FORMATS
from scalelaw.io.peek import columns_in
from scalelaw.io.read import read_logs
from scalelaw.io.report import ReadLogsWarning
from scalelaw.io.units import UNITS

__all__ = ["read_logs", "guess_columns", "columns_in", "ReadLogsWarning", "FORMATS",
           "SCHEMA_COLUMNS", "UNITS"]
