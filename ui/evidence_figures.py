"""Figures of the tour page "The answers, tested": sweep results and the live loss demos."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures import COLORS, decade_ticks_for

_MARGIN = dict(l=10, r=10, t=40, b=10)
_CONFIG = {"displayModeBar": False}


def _color(head: str) -> str:
    return COLORS.get(head, "#444444")


def out_of_range_by_head(final: pd.DataFrame) -> go.Figure:
    """% of test pixels outside [0, 1] after the last epoch, one point per finished run."""
    fig = go.Figure()
    done = final[~final["diverged"]]
    for head, g in done.groupby("head", sort=False):
        fig.add_trace(go.Box(x=[head] * len(g), y=g["pct_out"], name=head, boxpoints="all", jitter=0.4,
                             pointpos=0, marker=dict(color=_color(head), size=6), line=dict(width=1),
                             fillcolor="rgba(0,0,0,0)",
                             customdata=np.stack([g["lr"], g["seed"]], axis=1),
                             hovertemplate="%{x}, lr %{customdata[0]:g}, seed %{customdata[1]}: %{y:.2f}%<extra></extra>"))
    fig.update_layout(title="Test pixels outside [0, 1] after training (each point a run)", showlegend=False,
                      yaxis_title="% of test output pixels", height=330, margin=_MARGIN)
    return fig


def range_over_epochs(epochs: pd.DataFrame, head: str = "raw") -> go.Figure:
    """One line per run of ``head``: % of test pixels outside [0, 1] after each epoch, coloured by lr."""
    e = epochs[epochs["head"] == head]
    lrs = sorted(e["lr"].unique())
    palette = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725", "#bb3754", "#000000"]
    fig = go.Figure()
    for i, lr in enumerate(lrs):
        for j, (seed, g) in enumerate(e[e["lr"] == lr].groupby("seed")):
            g = g.sort_values("epoch")
            fig.add_trace(go.Scatter(x=g["epoch"], y=g["pct_out"], mode="lines+markers", name=f"lr {lr:g}",
                                     legendgroup=f"{lr:g}", showlegend=j == 0,
                                     line=dict(color=palette[i % len(palette)], width=1.5), marker=dict(size=4),
                                     hovertemplate=f"lr {lr:g}, seed {seed}, " + "epoch %{x}: %{y:.2f}%<extra></extra>"))
    fig.update_layout(title=f"The {head} head: test pixels outside [0, 1] after each epoch (one line per seed)",
                      xaxis_title="epoch", yaxis_title="% of test output pixels", height=360, margin=_MARGIN,
                      legend=dict(title="learning rate"))
    return fig


def metric_vs_lr(table: pd.DataFrame, metric: str = "bce", diverged_note: bool = True) -> go.Figure:
    """Final ``metric`` against the learning rate per head: mean over the seeds that finished, bars min..max.
    Learning rates where a run diverged are marked with an x at the top."""
    label = {"bce": "BCE (nats per image, pixels clipped to [0, 1])", "mse": "summed squared error per image"}[metric]
    fig = go.Figure()
    top = float(np.nanmax(table[f"{metric}_max"])) if table[f"{metric}_max"].notna().any() else 1.0
    for head, g in table.groupby("head", sort=False):
        g = g.sort_values("lr")
        mean = g[f"{metric}_mean"]
        fig.add_trace(go.Scatter(
            x=g["lr"], y=mean, mode="lines+markers", name=head, line=dict(color=_color(head)),
            error_y=dict(type="data", symmetric=False, array=g[f"{metric}_max"] - mean,
                         arrayminus=mean - g[f"{metric}_min"], thickness=1),
            customdata=np.stack([g["runs"] - g["diverged"], g["runs"]], axis=1),
            hovertemplate=f"{head}, lr " + "%{x:g}: %{y:.2f} (%{customdata[0]} of %{customdata[1]} runs finished)<extra></extra>"))
        bad = g[g["diverged"] > 0]
        if diverged_note and len(bad):
            fig.add_trace(go.Scatter(x=bad["lr"], y=[top * 1.05] * len(bad), mode="markers", showlegend=False,
                                     marker=dict(symbol="x", size=11, color=_color(head)),
                                     text=[f"{head}: {d} of {r} runs diverged at lr {lr:g}"
                                           for d, r, lr in zip(bad["diverged"], bad["runs"], bad["lr"])],
                                     hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(title=f"Final {metric.upper()} against the learning rate (mean over seeds, bars: min–max; "
                            "x: a run diverged)", xaxis=_lr_axis(table["lr"]),
                      # log: the clamp head's BCE reaches thousands of nats
                      yaxis=dict(type="log", title=label, **decade_ticks_for(
                          np.concatenate([table[f"{metric}_min"], table[f"{metric}_max"], [top * 1.05]]))),
                      height=400, margin=_MARGIN)
    return fig


def _lr_axis(lrs: pd.Series) -> dict:
    """A log axis ticked at exactly the learning rates that were run, written as numbers."""
    ticks = sorted(set(float(v) for v in lrs if np.isfinite(v) and v > 0))
    return dict(type="log", title="learning rate (Adam)", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])


def grad_norm_vs_lr(table: pd.DataFrame) -> go.Figure:
    """The largest gradient norm any step of any seed saw, against the learning rate, per head (log-log)."""
    fig = go.Figure()
    for head, g in table.groupby("head", sort=False):
        g = g[np.isfinite(g["max_grad_norm"])].sort_values("lr")
        fig.add_trace(go.Scatter(x=g["lr"], y=g["max_grad_norm"], mode="lines+markers", name=head,
                                 line=dict(color=_color(head)),
                                 hovertemplate=f"{head}, lr " + "%{x:g}: %{y:.3g}<extra></extra>"))
    fig.update_layout(title="Largest gradient norm of any training step (all seeds)", height=340, margin=_MARGIN,
                      xaxis=_lr_axis(table["lr"]),
                      yaxis=dict(type="log", title="‖gradient‖ of a batch's summed loss",
                                 **decade_ticks_for(table["max_grad_norm"])))
    return fig


def divergence_table(table: pd.DataFrame) -> pd.DataFrame:
    """Heads as rows, learning rates as columns: 'diverged of runs'."""
    cells = table.assign(cell=[f"{d} of {r}" for d, r in zip(table["diverged"], table["runs"])])
    out = cells.pivot(index="head", columns="lr", values="cell")
    out.columns = [f"lr {lr:g}" for lr in out.columns]
    return out.reset_index()


def saturation_curves(curves: dict[str, np.ndarray], logit: float, target: float) -> go.Figure:
    """Loss and gradient against the logit, sigmoid + BCE against BCE-with-logits, in float32."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (nats)", "gradient d loss / d logit"))
    z = curves["logit"]
    for col, suffix in ((1, ""), (2, "_grad")):
        fig.add_trace(go.Scatter(x=z, y=curves[f"logits_bce{suffix}"], name="F.binary_cross_entropy_with_logits(z, x)",
                                 line=dict(color=COLORS["logits"], width=3), showlegend=col == 1,
                                 legendgroup="logits"), row=1, col=col)
        fig.add_trace(go.Scatter(x=z, y=curves[f"sigmoid_bce{suffix}"], name="F.binary_cross_entropy(torch.sigmoid(z), x)",
                                 line=dict(color=COLORS["sigmoid"], width=2, dash="dash"), showlegend=col == 1,
                                 legendgroup="sigmoid"), row=1, col=col)
        fig.add_vline(x=logit, line=dict(color="#888", width=1, dash="dot"), row=1, col=col)
    fig.update_xaxes(title_text="logit z")
    fig.update_layout(title=f"Target x = {target:g}, float32", height=360, margin=_MARGIN,
                      legend=dict(orientation="h", y=-0.25))
    return fig
