"""Encoder/decoder bivariate law of neural machine translation (Ghorbani et al. 2021, "Scaling
Laws for Neural Machine Translation", arXiv:2109.07740, eq. 2).

    L(N_e, N_d) = A * (Ne_ref / N_e)^p_e * (Nd_ref / N_d)^p_d + L_inf

N_e, N_d non-embedding encoder and decoder parameters, L nats. The paper's coefficient alpha is
called ``A`` here; Ne_ref, Nd_ref are fixed normalisers (options; default: the median encoder and
decoder sizes of the data, standing for the paper's base model).

For a budget B = N_e + N_d the optimum splits N_e / N_d = p_e / p_d, i.e. N_e* = B p_e/(p_e+p_d),
and L_opt(B) = A* B^-(p_e+p_d) + L_inf with
A* = A (Ne_ref (p_e+p_d)/p_e)^p_e (Nd_ref (p_e+p_d)/p_d)^p_d.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, as_numbers, as_scalar, cartesian, nnls_seeds


def encdec(N_e, N_d, *, A, p_e, p_d, L_inf, Ne_ref=1.0, Nd_ref=1.0):
    """L = A (Ne_ref/N_e)^p_e (Nd_ref/N_d)^p_d + L_inf (Ghorbani et al. 2021).

    A side whose exponent is 0 drops out (x^0 = 1), even at size 0 (the optimal split then puts
    the whole budget on the other side).
    """
    return A * np.exp(_scaled_log(p_e, Ne_ref, N_e) + _scaled_log(p_d, Nd_ref, N_d)) + L_inf


def _scaled_log(p, ref, n):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p * (np.log(ref) - np.log(n))
    return np.where(np.asarray(p) == 0, 0.0, out)


class EncDec(Law):
    def prepare(self, columns, options, frame=None, y=None):
        X, info = super().prepare(columns, options, frame, y)
        info["Ne_ref"] = float(options["Ne_ref"] or np.median(X["N_e"]))
        info["Nd_ref"] = float(options["Nd_ref"] or np.median(X["N_d"]))
        return X, info

    def evaluate(self, X, P, info=None):
        refs = info or {}
        return encdec(X["N_e"], X["N_d"], A=P["A"], p_e=P["p_e"], p_d=P["p_d"], L_inf=P["L_inf"],
                      Ne_ref=refs.get("Ne_ref", 1.0), Nd_ref=refs.get("Nd_ref", 1.0))

    def seeds(self, X, y, options, fixed, info=None):
        g = cartesian({
            "p_e": [fixed["p_e"]] if "p_e" in fixed else np.geomspace(0.01, 1.5, 18),
            "p_d": [fixed["p_d"]] if "p_d" in fixed else np.geomspace(0.01, 1.5, 18),
        })
        ne = X["N_e"] / info["Ne_ref"]
        nd = X["N_d"] / info["Nd_ref"]
        designs = np.stack([np.stack([ne ** -a * nd ** -b, np.ones_like(ne)], axis=1)
                            for a, b in zip(g["p_e"], g["p_d"])])
        coefs, rss = nnls_seeds(designs, y)
        out = []
        tiny = 1e-6 * float(y.min())
        for i in np.argsort(rss)[:64]:
            A, L_inf = coefs[i]
            if np.all(np.isfinite(coefs[i])):
                out.append({"A": max(A, tiny), "p_e": g["p_e"][i], "p_d": g["p_d"][i], "L_inf": max(L_inf, tiny)})
        return out

    def start_grid(self, X, y, options):
        return {
            "A": y.mean() * np.array([0.1, 0.5, 1.0]),
            "p_e": np.array([0.05, 0.2, 0.5]),
            "p_d": np.array([0.05, 0.2, 0.5]),
            "L_inf": y.min() * np.array([0.2, 0.6, 0.9]),
        }

    def optimum(self, params, info, budget=None, **kwargs):
        """Best encoder/decoder split for a parameter budget B = N_e + N_d (closed form)."""
        if budget is None or kwargs:
            raise ValueError("encdec optimum needs exactly budget=<N_e + N_d>, e.g. fit.optimum(budget=1e9)")
        B = as_numbers(budget, "optimum: budget").reshape(np.shape(budget))
        if np.any(~np.isfinite(B) | (B <= 0)):
            raise ValueError(f"optimum: budget must be a finite number > 0 (N_e + N_d), got {budget}")
        p_e, p_d = params["p_e"], params["p_d"]
        n_e = B * p_e / (p_e + p_d)
        n_d = B - n_e
        loss = self.evaluate({"N_e": n_e, "N_d": n_d}, params, info)
        return {"N_e": as_scalar(n_e), "N_d": as_scalar(n_d), "loss": as_scalar(loss), "budget": as_scalar(B)}

    def derived(self, params, info=None):
        p_e, p_d = float(params["p_e"]), float(params["p_d"])
        s = p_e + p_d
        out = {"encoder_share": p_e / s if s > 0 else float("nan"), "budget_exponent": s}
        if info:
            # x^x -> 1 as x -> 0: an exponent that collapsed to zero drops out of A*
            factor = 1.0
            for p, ref in ((p_e, info["Ne_ref"]), (p_d, info["Nd_ref"])):
                factor *= (ref * s / p) ** p if p > 0 else 1.0
            out["A_star"] = params["A"] * factor
        return out


LAW = EncDec(
    name="encdec",
    formula="L = A * (Ne_ref / N_e)^p_e * (Nd_ref / N_d)^p_d + L_inf",
    latex=r"L(N_e, N_d) = A \left(\frac{\bar N_e}{N_e}\right)^{p_e} \left(\frac{\bar N_d}{N_d}\right)^{p_d} + L_\infty",
    source="Ghorbani et al. 2021, Scaling Laws for Neural Machine Translation (arXiv:2109.07740)",
    inputs=(
        Input("N_e", "encoder non-embedding parameters", column="n_enc_params", identifies=("p_e",)),
        Input("N_d", "decoder non-embedding parameters", column="n_dec_params", identifies=("p_d",)),
    ),
    params=(
        Param("A", "loss scale at the reference sizes (the paper's alpha)"),
        Param("p_e", "encoder exponent", max=5.0),
        Param("p_d", "decoder exponent", max=5.0),
        Param("L_inf", "irreducible loss (nats)", floor=True),
    ),
    function=encdec,
    options={"Ne_ref": None, "Nd_ref": None},
)
