"""Plain-text fit report in the spirit of lmfit's ``fit_report``: statistics, each parameter with
its interval and flags, derived quantities and every warning."""

from __future__ import annotations

_LOSS_TEXT = {
    "huber": "Huber (delta={delta:g}) on log residuals, summed",
    "squared": "squared log residuals (x 0.5), summed",
    "huber_linear": "Huber (delta={delta:g}) on linear residuals, summed",
    "squared_linear": "squared residuals (x 0.5), summed",
}


def fit_report(fit, level: float = 0.95) -> str:
    law = fit.law
    lines = [
        f"[[Fit: {law.name}]]  {law.formula}",
        f"    source:           {law.source}",
        f"    objective:        {_LOSS_TEXT[fit.loss].format(delta=fit.delta)} = {fit.objective:.6g}",
        f"    # data points:    {fit.n_points}",
        f"    # free params:    {fit.n_free}",
        f"    AIC (gaussian):   {fit.aic:.4g}",
        f"    starts:           {fit.starts['n_starts']} evaluated ({fit.starts['n_seeds']} data-driven), "
        f"{fit.starts['n_polished']} polished, {fit.starts['n_agree']} reached the best objective",
    ]
    ci = None
    if fit.draws is not None:
        b = fit.bootstrap_info
        lines.append(f"    bootstrap:        {b['n']} resamples by {b['method']}, {b['n_failed']} failed")
        ci = fit.ci(level)
    lines.append("[[Parameters]]")
    width = max(len(n) for n in law.param_names)
    for name in law.param_names:
        value = fit.params[name]
        text = f"    {name:<{width}}  {value:>12.6g}"
        if name in fit.spec.fixed:
            text += "  (fixed)"
        elif ci is not None:
            text += f"  [{ci.loc[name, 'lower']:.6g}, {ci.loc[name, 'upper']:.6g}] ({level:.0%} bootstrap CI)"
        else:
            text += "  (no CI: run fit.bootstrap())"
        if name in fit.at_bound:
            text += "  AT BOUND"
        lines.append(text)
    derived = fit.derived()
    if derived:
        lines.append("[[Derived]]")
        lines += [f"    {k} = {v:.6g}" for k, v in derived.items()]
    if fit.warnings:
        lines.append("[[Warnings]]")
        lines += [f"    - {w}" for w in fit.warnings]
    return "\n".join(lines)
