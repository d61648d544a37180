"""Read the loss logs people have into the tidy curve schema (DESIGN §4).

>>> import scalelaw as sl
>>> df = sl.read_logs("runs/")          # doctest: +SKIP

One module per format (``tables``, ``tensorboard``, ``hf``, ``lightning``, ``wandb``,
``nanogpt``, ``trainer_jsonl``), plus detection (``detect``), column guessing (``columns``),
units (``units``), sidecar configs (``sidecar``) and the schema rules (``schema``).
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
