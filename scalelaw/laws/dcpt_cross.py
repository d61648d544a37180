"""Cross-domain D-CPT law (Que et al. 2024, "D-CPT Law", arXiv:2406.01375, section on the
cross-domain setting).

    L(N, D, r, domain) = E + A/N^alpha + B r^eta / D^beta + C/(r + eps)^gamma + F / K^mu
    K = 1/k1 + w2 * k2

K is a per-domain learnable coefficient. It is *not* a free offset per domain (F and mu would then
be unidentifiable); following a secondary account of the paper, K is built from two measured
properties of each domain: k1, the base model's initial loss on the domain's validation set, and
k2, the early decline rate of that loss once continual pre-training starts. The weight of 1/k1 is
fixed at 1 because F absorbs any common scale of K (w1 and F are otherwise not identifiable);
w2 is learned. **Unverified:** we could not check this construction of K against the paper's text;
the mechanism is implemented and tested on synthetic data generated from this very form.

k1, k2 come from ``domain_features``: given as ``{domain: {"k1": ..., "k2": ...}}`` (option), or
measured from the data by :func:`domain_features`: k1 = mean loss of the domain's D = 0 rows,
k2 = (k1 - mean loss at the domain's smallest D > 0) / k1, the relative decline over the first
logged interval.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, cartesian, nnls_seeds
from .dcpt import DCPT, DCPT_INPUTS, _dcpt_params, dcpt


def dcpt_cross(N, D, r, k1, k2, *, E, A, alpha, B, eta, beta, C, gamma, F, mu, w2, eps=0.01):
    """L = dcpt(N, D, r) + F / (1/k1 + w2 k2)^mu (Que et al. 2024, cross-domain)."""
    K = 1.0 / k1 + w2 * k2
    return (dcpt(N, D, r, E=E, A=A, alpha=alpha, B=B, eta=eta, beta=beta, C=C, gamma=gamma, eps=eps)
            + np.exp(np.log(F) - mu * np.log(K)))


def domain_features(frame, *, domain="domain", D="n_tokens", loss="loss"):
    """Measure each domain's (k1, k2) from its curves: the initial loss and the early decline.

    ``frame`` holds the domain-loss rows of continual pre-training runs, including the D = 0 rows
    (the base model before continual pre-training). Returns ``{domain: {"k1": ..., "k2": ...}}``.
    """
    for col in (domain, D, loss):
        if col not in frame.columns:
            raise ValueError(f"domain_features: column {col!r} not found; columns are {list(frame.columns)}")
    out = {}
    for name, sub in frame.groupby(domain, sort=True):
        d = sub[D].to_numpy(float)
        y = sub[loss].to_numpy(float)
        if not np.any(d == 0) or not np.any(d > 0):
            raise ValueError(
                f"domain_features: domain {name!r} needs rows at D = 0 (the base model) and at D > 0 to "
                "measure its initial loss and early decline; pass domain_features={domain: {'k1','k2'}} instead"
            )
        k1 = float(y[d == 0].mean())
        first = d[d > 0].min()
        k2 = float((k1 - y[d == first].mean()) / k1)
        out[str(name)] = {"k1": k1, "k2": k2}
    return out


class DCPTCross(DCPT):
    def _extra_features(self, columns, options, frame, info, y):
        domains = np.asarray(columns["domain"]).astype(str)
        feats = options.get("domain_features")
        if feats is None:
            if y is None:
                raise ValueError("dcpt_cross needs domain_features= or data with D = 0 rows per domain")
            import pandas as pd

            feats = domain_features(pd.DataFrame({"domain": domains, "D": columns["D"], "loss": y}),
                                    domain="domain", D="D", loss="loss")
        feats = {str(k): {"k1": float(v["k1"]), "k2": float(v["k2"])} for k, v in feats.items()}
        missing = sorted(set(domains) - set(feats))
        if missing:
            raise ValueError(f"domain_features has no entry for domain(s) {missing}; it has {sorted(feats)}")
        info["domain_features"] = feats
        info["domains"] = sorted(set(domains))
        return self._k_arrays(domains, feats)

    def options_from_info(self, options, info):
        return {**options, "domain_features": info["domain_features"]}

    @staticmethod
    def _k_arrays(domains, feats):
        return {"k1": np.array([feats[d]["k1"] for d in domains], dtype=float),
                "k2": np.array([feats[d]["k2"] for d in domains], dtype=float)}

    prediction_extras = ("k1", "k2")

    def features_for_prediction(self, X, options, info):
        self.check_prediction_keys(X)
        base = {k: X[k] for k in ("N", "D", "r") if k in X}
        feats = DCPT.features_for_prediction(self, base, options, info)
        if "k1" in X and "k2" in X:
            k = {"k1": np.asarray(X["k1"], float).ravel(), "k2": np.asarray(X["k2"], float).ravel()}
        elif "domain" in X:  # raveled as the numeric inputs are (one value per point)
            dom = np.broadcast_to(np.asarray(X["domain"], dtype=object).ravel(), feats["N"].shape).astype(str)
            unknown = sorted(set(dom) - set(info["domain_features"]))
            if unknown:
                raise ValueError(f"unknown domain(s) {unknown}; fitted domains: {sorted(info['domain_features'])}; "
                                 "give k1 and k2 for a new domain")
            k = self._k_arrays(dom, info["domain_features"])
        else:
            raise ValueError("dcpt_cross predicts for a domain: give domain= (a fitted one) or k1= and k2=")
        feats.update({n: np.broadcast_to(v, feats["N"].shape) for n, v in k.items()})
        return feats

    def check_prediction(self, feats, params, info):
        """K = 1/k1 + w2 k2 must be > 0 for F / K^mu: a new domain whose loss rose at first (k2 < 0)
        can give K <= 0 under the fitted w2, and the prediction was NaN without a word."""
        k1, k2 = np.asarray(feats["k1"], float), np.asarray(feats["k2"], float)
        bad = ~(np.isfinite(k1) & (k1 > 0) & np.isfinite(k2))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"dcpt_cross: k1 (the domain's initial loss) must be a finite number > 0 and k2 finite, "
                             f"got k1={k1[i]:g}, k2={k2[i]:g}")
        K = 1.0 / k1 + params["w2"] * k2
        bad = ~(K > 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            fitted = info.get("domain_features") or {}
            Ks = [1.0 / v["k1"] + params["w2"] * v["k2"] for v in fitted.values()]
            seen = f"; the fitted domains have K in [{min(Ks):.4g}, {max(Ks):.4g}]" if Ks else ""
            raise ValueError(f"dcpt_cross: K = 1/k1 + w2*k2 = {K[i]:.4g} <= 0 at k1={k1[i]:g}, k2={k2[i]:g} (fitted "
                             f"w2 = {params['w2']:.4g}): the cross-domain term F / K^mu is undefined there{seen}")

    def evaluate(self, X, P, info=None):
        kw = {n: P[n] for n in self.param_names}
        return dcpt_cross(X["N"], X["D"], X["r"], X["k1"], X["k2"], eps=self._eps(info), **kw)

    def seeds(self, X, y, options, fixed, info=None):
        # Seed the dcpt part by variable projection on a coarse grid, F by projection too.
        names = ("alpha", "eta", "beta", "gamma", "mu", "w2")
        g = cartesian({n: [fixed[n]] if n in fixed else (np.array([0.1, 0.5, 1.0]) if n != "w2" else np.array([0.1, 1.0, 10.0]))
                       for n in names})
        eps = self._eps(info)
        N, D, r, k1, k2 = X["N"], X["D"], X["r"], X["k1"], X["k2"]
        ones = np.ones_like(N)
        with np.errstate(divide="ignore"):
            designs = np.stack([
                np.stack([ones, N ** -a, r ** e * D ** -b, (r + eps) ** -c, (1 / k1 + w * k2) ** -m], axis=1)
                for a, e, b, c, m, w in zip(*(g[n] for n in names))
            ])
        coefs, rss = nnls_seeds(designs, y)
        tiny = 1e-6 * float(y.min())
        out = []
        for i in np.argsort(rss)[:32]:
            if np.all(np.isfinite(coefs[i])):
                E, A, B, C, F = np.maximum(coefs[i], tiny)
                out.append({"E": E, "A": A, "B": B, "C": C, "F": F, **{n: g[n][i] for n in names}})
        return out

    def start_grid(self, X, y, options):
        grid = super().start_grid(X, y, options)
        grid.update({"F": np.array([0.1, 1.0]), "mu": np.array([0.5, 1.0]), "w2": np.array([1.0])})
        return grid


LAW = DCPTCross(
    name="dcpt_cross",
    formula="L = E + A/N^alpha + B r^eta / D^beta + C/(r + eps)^gamma + F / K^mu,  K = 1/k1 + w2 k2",
    latex=(r"L = E + \frac{A}{N^{\alpha}} + \frac{B\, r^{\eta}}{D^{\beta}} + \frac{C}{(r+\epsilon)^{\gamma}}"
           r" + \frac{F}{K^{\mu}},\quad K = \frac{1}{k_1} + w_2 k_2"),
    source="Que et al. 2024, D-CPT Law, cross-domain form (arXiv:2406.01375); K's construction unverified",
    inputs=DCPT_INPUTS + (
        Input("domain", "domain name (k1, k2 per domain from domain_features)", column="domain",
              positive=False, categorical=True, identifies=("F", "mu", "w2")),
    ),
    params=_dcpt_params("dcpt_cross") + (
        Param("F", "cross-domain coefficient"),
        Param("mu", "cross-domain exponent", max=5.0),
        Param("w2", "weight of the early decline rate k2 in K (the weight of 1/k1 is 1)"),
    ),
    function=dcpt_cross,
    options={"side": "domain", "eps": 0.01, "domain_features": None},
)
