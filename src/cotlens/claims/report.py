"""``claims.html``: one card per claim (the claim, the experiment, the rule, the counts over seeds drawn as exact
intervals, the verdict and why), and the experiments that ran, with links to their reports."""

from __future__ import annotations

from html import escape
from pathlib import Path

from cotlens.claims.result import ClaimResult, ClaimsResult
from cotlens.figures import CSS, figure_img

COLORS = {"supported": "#2e7d32", "contradicted": "#c62828", "mixed": "#ef6c00", "not tested": "#757575"}
STYLE = """
.card{border:1px solid #ccc;border-radius:6px;padding:8px 14px;margin:14px 0}
.verdict{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600}
.rule{color:#555;font-size:0.92em}
"""


def _intervals(c: ClaimResult) -> str:
    """The claim's counts over seeds: each rate with its Clopper-Pearson interval, the 0.5 line of the rules."""
    rates = [r for r in c.rates if r.ci is not None and r.value is not None]
    if not rates:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 0.45 + 0.38 * len(rates)), dpi=100)
    for i, r in enumerate(reversed(rates)):
        lo, hi = r.ci or (0.0, 1.0)
        ax.plot([lo, hi], [i, i], color="#555", lw=2)
        ax.plot([r.value or 0.0], [i], "o", color=COLORS[c.verdict] if i == len(rates) - 1 else "#333", ms=6)
        ax.text(1.02, i, f"{r.k}/{r.n}", va="center", fontsize=8)
    ax.axvline(0.5, color="#999", ls="--", lw=1)
    ax.set_yticks(range(len(rates)), [r.label for r in reversed(rates)], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of seeds (exact 95% interval)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return figure_img(fig, f"counts over seeds: {c.key}")


def _card(c: ClaimResult) -> str:
    link = f" <a href='{escape(c.report, quote=True)}'>report</a>" if c.report else ""
    return f"""<div class="card" id="{escape(c.key, quote=True)}">
<p><span class="verdict" style="background:{COLORS.get(c.verdict, '#757575')}">{escape(c.verdict)}</span>
<b>{escape(c.claim)}</b></p>
<p>Tested by {escape(c.experiment)}.{link}</p>
<p class="rule">Rule (fixed before the runs): {escape(c.rule)}</p>
{_intervals(c)}
<p>Measured: {escape(c.outcome)}</p>
<p>Why this verdict: {escape(c.why)}.</p></div>"""


def write_report(out: Path, result: ClaimsResult) -> Path:
    quick = bool(result.config.get("quick"))
    summary = "".join(
        f"<tr><td><a href='#{escape(c.key, quote=True)}'>{escape(c.key)}</a></td><td><span class='verdict' "
        f"style='background:{COLORS.get(c.verdict, '#757575')}'>{escape(c.verdict)}</span></td>"
        f"<td>{escape(c.claim)}</td></tr>" for c in result.claims)
    runs = "".join(
        f"<tr><td>{escape(r.name)}</td><td>{escape(r.status)}</td><td class='num'>"
        f"{'-' if r.seconds is None else f'{r.seconds / 60:.1f}'}</td><td class='num'>"
        f"{'-' if r.compute_seconds is None else f'{r.compute_seconds / 60:.1f}'}</td>"
        f"<td><a href='{escape(r.out, quote=True)}/report.html'>{escape(r.out)}/report.html</a></td></tr>"
        for r in result.experiments)
    warn = ("<p class='warn'><b>--quick</b>: every experiment ran tiny (two seeds, a few steps). These verdicts check "
            "the machinery and mean nothing.</p>") if quick else ""
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: the claims</title>
<style>{CSS}{STYLE}</style></head><body>
<h1>What cotlens found, claim by claim</h1>
{warn}
<p>Each claim is tested by an experiment on organisms (or SmolLM2), with ten independent seeds per arm unless
said. A count over seeds carries its exact binomial (Clopper-Pearson) 95% interval; a verdict follows from the
rule printed with it, written in code before the runs. Run on {escape(result.date)}; this invocation took
{result.seconds / 60:.1f} minutes (a resumed one reuses finished jobs).</p>
<table><tr><th>claim</th><th>verdict</th><th></th></tr>{summary}</table>
{''.join(_card(c) for c in result.claims)}
<h2>Experiments</h2>
<table><tr><th>experiment</th><th>status</th><th>minutes (this run)</th><th>minutes of compute</th><th>report</th>
</tr>{runs}</table>
</body></html>"""
    path = out / "claims.html"
    path.write_text(html, encoding="utf-8")
    return path
