"""D-CPT law for continual pre-training on a domain/general mixture (Que et al. 2024, "D-CPT Law:
Domain-specific Continual Pre-Training Scaling Law for Large Language Models", arXiv:2406.01375).

    L(N, D, r) = E + A / N^alpha + B * r^eta / D^beta + C / (r + eps)^gamma

N non-embedding parameters, D continual-pre-training tokens, r in [0, 1] the domain share of the
mixture, eps a small fixed constant (option ``eps``, default 0.01) that keeps the last term finite
at r = 0. L nats. Both ends are fitted and predicted: at r = 0 the data term is 0 (r^eta with
eta > 0) and the last term C / eps^gamma; on the general side (1 - r) the same holds at r = 1. The domain validation loss and the general validation loss are two fits of the
same form; the general one uses the general share 1 - r in place of r (``side="general"``).

Rows with D = 0 (the base model before continual pre-training, logged at step 0) cannot be
fitted (D^-beta is infinite); they are kept as the base model's loss per N, which
:func:`mixture_optimum` uses as the general-loss baseline.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, cartesian, nnls_seeds


def dcpt(N, D, r, *, E, A, alpha, B, eta, beta, C, gamma, eps=0.01):
    """L = E + A/N^alpha + B r^eta / D^beta + C/(r+eps)^gamma (Que et al. 2024)."""
    with np.errstate(divide="ignore"):
        log_r = np.log(r)
    return (E + np.exp(np.log(A) - alpha * np.log(N)) + np.exp(np.log(B) + eta * log_r - beta * np.log(D))
            + np.exp(np.log(C) - gamma * np.log(r + eps)))


class DCPT(Law):
    def prepare(self, columns, options, frame=None, y=None):
        side = options.get("side", "domain")
        if side not in ("domain", "general"):
            raise ValueError(f"side must be 'domain' or 'general', got {side!r}")
        N = np.asarray(columns["N"], dtype=float)
        D = np.asarray(columns["D"], dtype=float)
        r = np.asarray(columns["r"], dtype=float)
        if np.any((r < 0) | (r > 1)):
            raise ValueError("input r (domain share of the mixture) must lie in [0, 1]")
        share = r if side == "domain" else 1.0 - r
        keep = D > 0
        notes = []
        info = {"row_mask": keep, "notes": notes, "side": side, "eps": float(options.get("eps", 0.01))}
        if not keep.all() and y is not None:
            info["baseline"] = {repr(float(n)): float(np.mean(y[(~keep) & (N == n)])) for n in np.unique(N[~keep])}
            notes.append(f"{int((~keep).sum())} row(s) with D = 0 (before continual pre-training) kept as the "
                         "base model's loss (baseline), not fitted")
        X = {"N": N, "D": np.where(keep, D, 1.0), "r": share}
        X.update(self._extra_features(columns, options, frame, info, y))
        return X, info

    def _extra_features(self, columns, options, frame, info, y):
        return {}

    def features_for_prediction(self, X, options, info):
        feats = super().features_for_prediction(X, options, info)
        if np.any(feats["D"] <= 0):
            # D = 0 rows are the base model's loss (the baseline), which the law does not model
            raise ValueError(f"input D must be > 0 to predict with {self.name!r} (D = 0 is the base model "
                             "before continual pre-training; see mixture_optimum's general_baseline)")
        if info.get("side") == "general":
            feats["r"] = 1.0 - feats["r"]
        return feats

    def evaluate(self, X, P, info=None):
        kw = {n: P[n] for n in ("E", "A", "alpha", "B", "eta", "beta", "C", "gamma")}
        return dcpt(X["N"], X["D"], X["r"], eps=self._eps(info), **kw)

    @staticmethod
    def _eps(info):
        return (info or {}).get("eps", 0.01)

    def seeds(self, X, y, options, fixed, info=None):
        # Linear in (E, A, B, C) >= 0 for fixed exponents: variable projection over a coarse grid.
        names = ("alpha", "eta", "beta", "gamma")
        g = cartesian({n: [fixed[n]] if n in fixed else np.array([0.1, 0.3, 0.6, 1.0]) for n in names})
        eps = self._eps(info)
        N, D, r = X["N"], X["D"], X["r"]
        ones = np.ones_like(N)
        with np.errstate(divide="ignore"):
            designs = np.stack([
                np.stack([ones, N ** -a, r ** e * D ** -b, (r + eps) ** -c], axis=1)
                for a, e, b, c in zip(*(g[n] for n in names))
            ])
        coefs, rss = nnls_seeds(designs, y)
        tiny = 1e-6 * float(y.min())
        out = []
        for i in np.argsort(rss)[:32]:
            if np.all(np.isfinite(coefs[i])):
                E, A, B, C = np.maximum(coefs[i], tiny)
                out.append({"E": E, "A": A, "alpha": g["alpha"][i], "B": B, "eta": g["eta"][i],
                            "beta": g["beta"][i], "C": C, "gamma": g["gamma"][i]})
        return out

    def start_grid(self, X, y, options):
        return {
            "E": y.min() * np.array([0.5, 0.9]),
            "A": np.array([1.0, 100.0]),
            "alpha": np.array([0.1, 0.4]),
            "B": np.array([1.0, 100.0]),
            "eta": np.array([0.1, 0.5]),
            "beta": np.array([0.1, 0.4]),
            "C": np.array([0.01, 0.1]),
            "gamma": np.array([0.1, 0.5]),
        }


def _dcpt_params(name):
    return (
        Param("E", "irreducible loss (nats)", floor=True),
        Param("A", "model-size coefficient"),
        Param("alpha", "model-size exponent", max=5.0),
        Param("B", "data coefficient"),
        Param("eta", "mixture exponent of the data term", max=5.0),
        Param("beta", "data exponent", max=5.0),
        Param("C", "mixture coefficient"),
        Param("gamma", "mixture exponent", max=5.0),
    )


DCPT_INPUTS = (
    Input("N", "non-embedding parameters", column="n_params", identifies=("A", "alpha")),
    Input("D", "continual pre-training tokens", column="n_tokens", positive=False, min=0.0, identifies=("beta",)),
    Input("r", "domain share of the mixture, in [0, 1]", column="mix_ratio", positive=False, min=0.0, max=1.0,
          identifies=("eta", "C", "gamma")),
)

LAW = DCPT(
    name="dcpt",
    formula="L = E + A / N^alpha + B * r^eta / D^beta + C / (r + eps)^gamma",
    latex=r"L(N, D, r) = E + \frac{A}{N^{\alpha}} + \frac{B\, r^{\eta}}{D^{\beta}} + \frac{C}{(r + \epsilon)^{\gamma}}",
    source="Que et al. 2024, D-CPT Law (arXiv:2406.01375)",
    inputs=DCPT_INPUTS,
    params=_dcpt_params("dcpt"),
    function=dcpt,
    options={"side": "domain", "eps": 0.01},
)


def mixture_optimum(dom, gen, N, D, max_general_increase=0.03, general_baseline=None, *, domain=None, grid=4001):
    """Largest domain share r whose predicted general loss stays within a cap of the base model's.

    Que et al. 2024's worked example caps the general-loss increase at 3%
    (``max_general_increase=0.03``). ``dom`` and ``gen`` are fits of ``dcpt`` (or ``dcpt_cross``)
    to the domain and the general validation loss (``side="general"``). The baseline is the
    general validation loss before continual pre-training: given, or the general fit's step-0
    (D = 0) rows for this N.

    Returns ``{"r", "domain_loss", "general_loss", "general_baseline", "general_increase",
    "feasible"}``; when no r in (0, 1] keeps the cap, ``feasible`` is False and ``r`` is nan.
    For ``dcpt_cross`` fits, ``domain`` names the (fitted) domain to mix in.
    """
    for name, f in (("dom", dom), ("gen", gen)):
        if getattr(f, "law", None) is None or f.law.name not in ("dcpt", "dcpt_cross"):
            raise TypeError(f"mixture_optimum: {name} must be a dcpt or dcpt_cross fit")
    if gen.info.get("side") != "general":
        raise ValueError("mixture_optimum: gen must be fitted with side='general' (it uses 1 - r)")
    if dom.info.get("side") != "domain":
        raise ValueError("mixture_optimum: dom must be fitted with side='domain'")
    if not max_general_increase >= 0:
        raise ValueError(f"max_general_increase must be >= 0, got {max_general_increase!r}")
    if general_baseline is None:
        general_baseline = base_loss(gen, N)
    r = np.linspace(1.0 / grid, 1.0, grid)
    extra = {}
    if dom.law.name == "dcpt_cross":
        if domain is None:
            raise ValueError(f"mixture_optimum: dcpt_cross fits need domain= (one of {dom.info['domains']})")
        extra = {"domain": np.full(r.shape, domain, dtype=object)}
    gen_loss = gen.predict({"N": np.full_like(r, N), "D": np.full_like(r, D), "r": r, **extra}, warn=False)
    cap = general_baseline * (1.0 + max_general_increase)
    ok = gen_loss <= cap
    out = {"general_baseline": float(general_baseline), "cap": float(cap)}
    if not ok.any():
        return {"r": float("nan"), "domain_loss": float("nan"), "general_loss": float(gen_loss.min()),
                "general_increase": float(gen_loss.min() / general_baseline - 1.0), "feasible": False, **out}
    best = r[np.flatnonzero(ok).max()]
    point = {"N": np.array([N], float), "D": np.array([D], float), "r": np.array([best])}
    if extra:
        point["domain"] = extra["domain"][:1]
    g = float(gen.predict(point, warn=False)[0])
    return {"r": float(best), "domain_loss": float(dom.predict(point, warn=False)[0]), "general_loss": g,
            "general_increase": g / general_baseline - 1.0, "feasible": True, **out}


def base_loss(fit, N):
    """The base model's loss at size N from the fit's D = 0 rows (exact N match required)."""
    baselines = fit.info.get("baseline") or {}
    for key, value in baselines.items():
        if np.isclose(float(key), float(N), rtol=1e-9):
            return float(value)
    raise ValueError(
        f"no general-loss baseline for N={N:g}: the general fit had no D = 0 rows at that size "
        f"(sizes with a baseline: {sorted(float(k) for k in baselines) or 'none'}); pass general_baseline="
    )
