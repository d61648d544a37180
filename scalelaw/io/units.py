"""Loss units: what the user declares, what a column's name claims, and the factor to nats.

The library works in nats per token (DESIGN §3). A loss logged in bits or per byte is converted
only when the user says so (``loss_unit=``); a column whose *name* says bits while the user
declared nats is an error, never a silent guess either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# accepted spellings -> canonical unit
_ALIASES = {
    "nats": "nats", "nat": "nats", "nats_per_token": "nats",
    "bits": "bits", "bit": "bits", "bits_per_token": "bits",
    "bits_per_byte": "bits_per_byte", "bpb": "bits_per_byte",
    "nats_per_byte": "nats_per_byte",
}
UNITS = ("nats", "bits", "bits_per_byte", "nats_per_byte")
_PER_BYTE = ("bits_per_byte", "nats_per_byte")


def canonical_unit(unit: str, where: str = "loss_unit") -> str:
    """Return the canonical name of a unit, or raise ``ValueError`` naming ``where``."""
    key = str(unit).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        raise ValueError(f"{where}={unit!r} is not a loss unit; expected one of {list(UNITS)}")
    return _ALIASES[key]


def factor_to_nats(unit: str, bytes_per_token: float | None) -> float:
    """Multiplier taking a loss in ``unit`` to nats per token.

    Per-byte units need ``bytes_per_token`` (1 for byte-level models): the library's laws are
    written per token, and the ratio cannot be read from a loss log.
    """
    unit = canonical_unit(unit)
    factor = math.log(2.0) if unit.startswith("bits") else 1.0
    if unit in _PER_BYTE:
        if bytes_per_token is None:
            raise ValueError(
                f"loss_unit={unit!r} needs bytes_per_token= (e.g. 1 for a byte-level model) "
                "to give nats per token")
        factor *= float(bytes_per_token)
    return factor


class UnitPolicy:
    """Decides the unit of each loss column from ``loss_unit`` and the column's name.

    Parameters
    ----------
    loss_unit : str or mapping
        One unit for every loss, or a mapping from split name or source column name to unit
        (unlisted losses are nats). A mapping entry is an explicit statement about that loss and
        overrides what its name suggests.
    bytes_per_token : float, optional
        Needed for per-byte units.
    """

    def __init__(self, loss_unit="nats", bytes_per_token: float | None = None) -> None:
        if isinstance(loss_unit, Mapping):
            self.default = "nats"
            self.explicit = {str(k): canonical_unit(v, f"loss_unit[{k!r}]")
                             for k, v in loss_unit.items()}
        else:
            self.default = canonical_unit(loss_unit)
            self.explicit = {}
        if bytes_per_token is not None:
            # 0 made every loss 0, a negative value negative losses, NaN "no usable rows": all silently
            try:
                value = float(bytes_per_token)
            except (TypeError, ValueError):
                value = math.nan
            if isinstance(bytes_per_token, bool) or not (math.isfinite(value) and value > 0):
                raise ValueError(f"bytes_per_token must be a finite number > 0 (1 for a byte-level model, about 4 "
                                 f"for an English BPE vocabulary), got {bytes_per_token!r}")
        self.bytes_per_token = bytes_per_token
        # validate per-byte needs up front, so the error is about the argument, not a file
        for unit in [self.default, *self.explicit.values()]:
            factor_to_nats(unit, bytes_per_token)

    def unit_for(self, column: str, split: str | None, marker: str | None) -> tuple[str, bool]:
        """Unit of one loss column and whether it conflicts with the name's marker.

        Returns
        -------
        unit : str
            The unit the values are taken to be in.
        conflict : bool
            True when the name says one unit (``marker``) and nothing the user said
            addresses this column except a blanket unit that differs from it.
        """
        if column in self.explicit:
            return self.explicit[column], False
        if split is not None and split in self.explicit:
            return self.explicit[split], False
        conflict = marker is not None and marker != self.default
        return self.default, conflict

    def factor(self, unit: str) -> float:
        return factor_to_nats(unit, self.bytes_per_token)
