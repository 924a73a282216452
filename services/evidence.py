"""Sweep results (``python -m vae.sweep``) read, summarised and turned into verdicts.

The tour page "The answers, tested" states a verdict under each claim. Every verdict here is
computed from the results it summarises: the counts, the learning rates, which head came out
ahead. Feed it other results and the sentences change with them; where the results do not
decide a question the verdict says so instead of guessing. No torch: a results file is JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vae.datasets import DATASETS
from vae.heads import HEADS
from vae.sweep_results import ResultsFileError, read_document

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
# The shipped results: the whole VAE trained per head, and decoders trained on one frozen encoder.
SHIPPED = {"whole": RESULTS_DIR / "sweep-mnist-z20.json",
           "decoder-only": RESULTS_DIR / "sweep-mnist-z20-decoder-only.json"}
LEARNED_BELOW = 1.0  # % of pixels out of [0, 1] under which we say a head has learned the range
_EPOCH_FIELDS = ("train_loss", "test_loss", "bce", "mse", "pct_below_0", "pct_above_1")


class ResultsError(ValueError):
    """A results file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict: ``status`` is one of holds / does not hold / partly / not shown."""

    status: str
    text: str


def load_results(path: str | Path) -> dict:
    """A sweep results file, checked field by field (heads must be known ones, numbers numbers).

    Only checked values reach the page, so its text can be built from them safely.
    """
    path = Path(path)
    try:
        doc = read_document(path, label=path.name)  # the name only: no server folder on the page
    except ResultsFileError as err:
        raise ResultsError(str(err)) from None
    config = doc.get("config")
    if (not isinstance(config, dict) or config.get("dataset") not in DATASETS
            or not all(isinstance(config.get(k), int) for k in ("latent", "hidden", "epochs", "batch_size"))):
        raise ResultsError(f"{path.name} has no valid config")
    counts = {k: doc.get(k) if isinstance(doc.get(k), int) else None for k in ("n_train", "n_test")}
    return {"config": {k: config[k] for k in ("dataset", "latent", "hidden", "epochs", "batch_size")},
            "decoder_only": bool(config.get("encoder_from")), **counts,
            "runs": [_checked_run(r, path.name) for r in doc["runs"]]}


def _checked_run(run: object, name: str) -> dict:
    ok = (isinstance(run, dict) and run.get("head") in HEADS and _is_number(run.get("lr")) and run["lr"] > 0
          and isinstance(run.get("seed"), int) and isinstance(run.get("diverged"), bool)
          and isinstance(run.get("epochs"), list))
    if not ok:
        raise ResultsError(f"{name} holds a run that is not a valid sweep record")
    assert isinstance(run, dict)
    epochs = []
    for e in run["epochs"]:
        if not isinstance(e, dict) or not isinstance(e.get("epoch"), int) or not all(_is_number(e.get(k)) for k in _EPOCH_FIELDS):
            raise ResultsError(f"{name}: a {run['head']} run has an epoch record that is not valid")
        grad = e.get("max_grad_norm")
        epochs.append({"epoch": e["epoch"], **{k: float(e[k]) for k in _EPOCH_FIELDS},
                       "max_grad_norm": float(grad) if isinstance(grad, (int, float)) and math.isfinite(grad) else math.inf})
    at = run["diverged_at"] if isinstance(run.get("diverged_at"), dict) else {}
    return {"head": run["head"], "lr": float(run["lr"]), "seed": run["seed"], "diverged": run["diverged"],
            "diverged_epoch": at.get("epoch") if isinstance(at.get("epoch"), int) else None,
            "diverged_step": at.get("step") if isinstance(at.get("step"), int) else None,
            "epochs": epochs}


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# --- tables ------------------------------------------------------------------------------------

def final_table(doc: dict) -> pd.DataFrame:
    """One row per run: its last epoch's metrics (NaN for a run that diverged)."""
    rows = []
    for r in doc["runs"]:
        last = r["epochs"][-1] if r["epochs"] and not r["diverged"] else {}
        rows.append({"head": r["head"], "lr": r["lr"], "seed": r["seed"], "diverged": r["diverged"],
                     "diverged_epoch": r["diverged_epoch"], "diverged_step": r["diverged_step"],
                     "epochs_done": len(r["epochs"]),
                     **{k: last.get(k, math.nan) for k in _EPOCH_FIELDS},
                     "pct_out": last.get("pct_below_0", math.nan) + last.get("pct_above_1", math.nan),
                     "max_grad_norm": max((e["max_grad_norm"] for e in r["epochs"]), default=math.nan)})
    columns = ["head", "lr", "seed", "diverged", "diverged_epoch", "diverged_step", "epochs_done",
               *_EPOCH_FIELDS, "pct_out", "max_grad_norm"]
    return pd.DataFrame(rows, columns=columns)


def epoch_table(doc: dict) -> pd.DataFrame:
    """One row per run and finished epoch."""
    rows = [{"head": r["head"], "lr": r["lr"], "seed": r["seed"], **e,
             "pct_out": e["pct_below_0"] + e["pct_above_1"]} for r in doc["runs"] for e in r["epochs"]]
    return pd.DataFrame(rows, columns=["head", "lr", "seed", "epoch", *_EPOCH_FIELDS, "max_grad_norm", "pct_out"])


def by_head_and_lr(final: pd.DataFrame) -> pd.DataFrame:
    """Per head and learning rate: runs, divergences, and the final metrics over the seeds that finished."""
    rows = []
    for (head, lr), g in final.groupby(["head", "lr"], sort=True):
        ok = g[~g["diverged"]]
        rows.append({"head": head, "lr": lr, "runs": len(g), "diverged": int(g["diverged"].sum()),
                     **{f"{m}_{stat}": getattr(ok[m], stat)() if len(ok) else math.nan
                        for m in ("bce", "mse", "pct_out") for stat in ("mean", "min", "max")},
                     "max_grad_norm": g["max_grad_norm"].max()})
    columns = ["head", "lr", "runs", "diverged",
               *(f"{m}_{stat}" for m in ("bce", "mse", "pct_out") for stat in ("mean", "min", "max")), "max_grad_norm"]
    return pd.DataFrame(rows, columns=columns)


def run_count_sentence(final: pd.DataFrame) -> str:
    """How many runs a results table holds, and over what grid."""
    if final.empty:
        return "no runs"
    heads = list(dict.fromkeys(final["head"]))
    return (f"{len(final)} runs: {len(heads)} head{'s' if len(heads) > 1 else ''} ({', '.join(heads)}) × "
            f"{final['lr'].nunique()} learning rates ({_lrs(sorted(final['lr'].unique()))}) × "
            f"{final['seed'].nunique()} seeds")


def _lrs(lrs) -> str:
    return ", ".join(f"{lr:g}" for lr in lrs)


def _heads_list(heads: list[str]) -> str:
    return heads[0] if len(heads) == 1 else ", ".join(heads[:-1]) + " and " + heads[-1]


# --- verdicts ----------------------------------------------------------------------------------

def verdict_range(final: pd.DataFrame) -> Verdict:
    """Claim 1: the sigmoid keeps the output in [0, 1]."""
    done = final[~final["diverged"]]
    if done.empty or "sigmoid" not in set(done["head"]):
        return Verdict("not shown", "These results hold no finished sigmoid run, so they cannot test this claim.")
    per_head = done.groupby("head", sort=False)["pct_out"]
    inside = [h for h, v in per_head if (v == 0).all()]
    leaky = {h: v for h, v in per_head if not (v == 0).all()}
    parts = []
    if inside:
        parts.append(f"{_heads_list(inside)}: not one test pixel outside [0, 1] in any of "
                     f"{sum(len(per_head.get_group(h)) for h in inside)} finished runs")
    for h, v in leaky.items():
        parts.append(f"{h}: {v.min():.2f}–{v.max():.2f}% of test pixels outside (median {v.median():.2f}%, "
                     f"{len(v)} runs)")
    sig = per_head.get_group("sigmoid")
    status = "holds" if (sig == 0).all() else "does not hold"
    lead = ("The sigmoid keeps every pixel inside [0, 1], whatever the learning rate or seed. "
            if status == "holds" else
            f"The sigmoid runs put up to {sig.max():.2f}% of pixels outside [0, 1]: the claim fails here. ")
    return Verdict(status, lead + "; ".join(parts) + ".")


def verdict_learns_range(epochs: pd.DataFrame, head: str = "raw", below: float = LEARNED_BELOW) -> Verdict:
    """Claim 2: without the sigmoid the network has to learn the range. Does it?"""
    e = epochs[epochs["head"] == head]
    if e.empty:
        return Verdict("not shown", f"These results hold no {head} run.")
    runs = e.sort_values("epoch").groupby(["lr", "seed"])
    first, last = runs["pct_out"].first(), runs["pct_out"].last()
    n_last = runs["epoch"].max()
    fell = int((last < first).sum())
    learned = sorted({lr for (lr, _), v in last.items() if v < below})
    all_learned = sorted(lr for lr, g in last.groupby(level="lr") if (g < below).all())
    text = (f"After its first epoch the {head} head put {first.min():.2f}–{first.max():.2f}% of test pixels "
            f"outside [0, 1]; after its last ({int(n_last.min())}"
            + (f"–{int(n_last.max())}" if n_last.max() != n_last.min() else "")
            + f" epochs) {last.min():.2f}–{last.max():.2f}%. The share fell in {fell} of {len(last)} runs. ")
    if not learned:
        status = "holds"
        text += (f"No run got under {below:g}%: the range has to be learned, and "
                 f"{int(n_last.max())} epochs did not teach it.")
    elif all_learned and len(all_learned) == last.index.get_level_values('lr').nunique():
        status = "partly"
        text += (f"Every run ended under {below:g}%: the range has to be learned, and here it was.")
    else:
        status = "holds"
        text += (f"Only at learning rate {_lrs(learned)} did some run end under {below:g}%"
                 + (f" (every seed at {_lrs(all_learned)})" if all_learned else "")
                 + ": the range has to be learned, and mostly it was not.")
    return Verdict(status, text)


def verdict_stability(final: pd.DataFrame, a: str = "sigmoid", b: str = "raw") -> Verdict:
    """Claim 3: the sigmoid makes learning more stable (than the raw head).

    Compared only over the learning rates both heads were trained with. "More stable" means
    fewer divergences first; with as many, a final result that depends less on the learning rate.
    That is only said when every measure of it agrees: worst minus best mean and worst over best
    mean, in BCE and in MSE (each yardstick favours the head trained with it; a head with a worse
    best result looks steadier in ratios and shakier in nats). Otherwise the verdict says so.
    """
    lrs = sorted(set(final.loc[final["head"] == a, "lr"]) & set(final.loc[final["head"] == b, "lr"]))
    if not lrs:
        return Verdict("not shown", f"These results need runs of both the {a} and the {b} head at the same learning rates.")
    final = final[final["head"].isin([a, b]) & final["lr"].isin(lrs)]
    table = by_head_and_lr(final)
    ta, tb = (table[table["head"] == h].set_index("lr") for h in (a, b))
    div = {h: final[(final["head"] == h) & final["diverged"]] for h in (a, b)}
    n = {h: int((final["head"] == h).sum()) for h in (a, b)}
    parts = []
    for h in (a, b):
        d = div[h]
        if d.empty:
            parts.append(f"{h}: none of {n[h]} runs diverged")
        else:
            where = ", ".join(f"{int(c)} at lr {lr:g}" for lr, c in d.groupby("lr").size().items())
            parts.append(f"{h}: {len(d)} of {n[h]} runs diverged ({where})")
    text = f"Over the {len(lrs)} learning rates both heads were trained with ({_lrs(lrs)}). Divergence — " + "; ".join(parts) + ". "

    finished = sorted(set(ta.index[ta["bce_mean"].notna()]) & set(tb.index[tb["bce_mean"].notna()]))
    if finished:
        better_bce = [lr for lr in finished if ta.at[lr, "bce_mean"] < tb.at[lr, "bce_mean"]]
        better_mse = [lr for lr in finished if ta.at[lr, "mse_mean"] < tb.at[lr, "mse_mean"]]
        text += (f"Final quality — {a} ended with the lower BCE at {len(better_bce)} of {len(finished)} learning rates"
                 f" and the lower MSE at {len(better_mse)} of {len(finished)}. ")
    spread: dict[str, dict[str, float]] = {}
    for h, t in ((a, ta), (b, tb)):
        ok = t[t["bce_mean"].notna()]
        if len(ok) >= 2:
            spread[h] = {f"{m}_{kind}": float(f(ok[f"{m}_mean"].max(), ok[f"{m}_mean"].min()))
                         for m in ("bce", "mse") for kind, f in (("diff", np.subtract), ("ratio", np.divide))}
    by_spread = 0
    if len(spread) == 2:
        text += ("How much worse the final result is at the worst learning rate than at the best (BCE, MSE) — "
                 + "; ".join(f"{h}: +{spread[h]['bce_diff']:.1f} nats (×{spread[h]['bce_ratio']:.2f}), "
                             f"+{spread[h]['mse_diff']:.1f} (×{spread[h]['mse_ratio']:.2f})" for h in (a, b)) + ". ")
        signs = {int(spread[a][k] < spread[b][k]) - int(spread[a][k] > spread[b][k]) for k in spread[a]}
        by_spread = signs.pop() if len(signs) == 1 else 0  # every measure must agree
    top = max(lrs)
    grads = {h: final.loc[(final["head"] == h) & (final["lr"] == top), "max_grad_norm"].max() for h in (a, b)}
    if all(np.isfinite(g) for g in grads.values()):
        text += (f"Largest gradient norm of any step at lr {top:g} — "
                 + "; ".join(f"{h}: {grads[h]:.3g}" for h in (a, b)) + ". ")
    da, db = len(div[a]), len(div[b])
    by_div = int(da < db) - int(da > db)  # +1: a diverged less
    if by_div > 0 or (by_div == 0 and by_spread > 0):
        status = "holds" if by_spread >= 0 else "partly"
    elif by_div < 0 or (by_div == 0 and by_spread < 0):
        status = "does not hold" if by_spread <= 0 else "partly"
    else:
        status = "not shown"
    less = " and its result depended less on the learning rate in both yardsticks."
    conclusion = {
        "holds": f"In these runs the {a} head was the more stable: "
                 + ("it diverged less often" if by_div > 0 else "no more divergences") + (less if by_spread > 0 else "."),
        "partly": f"Mixed: the {a} head " + ("diverged less often" if by_div > 0 else "diverged more often")
                  + " but its result " + ("depended more" if by_spread < 0 else "depended less")
                  + f" on the learning rate than the {b} head's.",
        "does not hold": f"In these runs the {b} head was the more stable: "
                         + ("it diverged less often" if by_div < 0 else "no more divergences") + (less if by_spread < 0 else "."),
        "not shown": "These runs do not separate the two heads' stability"
                     + (": as many divergences, and which result depends more on the learning rate changes with "
                        "the measure (nats or ratio, BCE or MSE)." if len(spread) == 2 else "."),
    }[status]
    return Verdict(status, text + conclusion)


def pct_out_quantiles(final: pd.DataFrame, head: str = "raw") -> tuple[float, float, int] | None:
    """(min, max, runs) of the final % of pixels outside [0, 1] over a head's finished runs."""
    v = final[(final["head"] == head) & ~final["diverged"]]["pct_out"]
    return (float(v.min()), float(v.max()), len(v)) if len(v) else None


def data_range(images: np.ndarray) -> dict:
    """What ``ToTensor()`` makes of uint8 images: the range, and how many pixels are grey levels."""
    x = images.astype(np.float32) / np.float32(255.0)
    ink = x > 0
    grey = (x > 0) & (x < 1)
    return {"min": float(x.min()), "max": float(x.max()), "pct_grey": 100 * float(grey.mean()),
            "pct_grey_of_ink": 100 * float(grey.sum() / max(int(ink.sum()), 1)),
            "pct_exact_0_or_1": 100 * float(((x == 0) | (x == 1)).mean())}


def verdict_probability(density: dict, data: dict) -> Verdict:
    """Claim 4: the sigmoid converts the output into a probability. ``density`` is
    :func:`services.bce_demo.bce_as_density`, ``data`` is :func:`data_range` of real images."""
    lam = density["lam"]
    grey = data["pct_grey_of_ink"]
    off = abs(density["bce_integral"] - 1)
    text = (f"True: the sigmoid's output lies in (0, 1) and is the mean λ of a Bernoulli, the probability of a "
            f"pixel being 'on'. But {grey:.0f}% of the sample's inked pixels are grey levels strictly between 0 and 1, "
            f"not coin flips. For λ = {lam:g}, exp(−BCE) integrates over x ∈ [0, 1] to {density['bce_integral']:.3f}"
            + (", not 1: on grey targets BCE is not a normalised likelihood. " if off > 1e-3 else ". ")
            + f"The continuous Bernoulli multiplies by C(λ) = {density['normaliser']:.3f}; its density then integrates "
            f"to {density['cb_integral']:.3f}, and its mean is {density['cb_mean']:.3f}"
            + (", not λ." if abs(density["cb_mean"] - lam) > 1e-3 else " (= λ here)."))
    status = "partly" if grey > 0 and off > 1e-3 else "holds"
    return Verdict(status, text)


def verdict_display(data: dict, written: dict[float, int], raw_range: tuple[float, float, int] | None) -> Verdict:
    """Claim 5: the data and ``save_image`` live in [0, 1]. ``written`` maps pixel values to the byte
    ``save_image`` wrote for them; ``raw_range`` is :func:`pct_out_quantiles` of the raw head."""
    in_unit = data["min"] >= 0 and data["max"] <= 1
    below = {v: b for v, b in written.items() if v < 0}
    above = {v: b for v, b in written.items() if v > 1}
    clipped = all(b == 0 for b in below.values()) and all(b == 255 for b in above.values())
    text = (f"ToTensor() turns the sample's bytes into values from {data['min']:g} to {data['max']:g}. "
            f"save_image wrote {', '.join(f'{v:g}' for v in below) or 'no value'} as "
            f"{', '.join(str(b) for b in below.values()) or '-'} and {', '.join(f'{v:g}' for v in above) or 'no value'} as "
            f"{', '.join(str(b) for b in above.values()) or '-'}: "
            + ("it clips, so values outside [0, 1] vanish from the saved image. " if clipped
               else "it did not simply clip them. "))
    if raw_range:
        lo, hi, n = raw_range
        text += (f"In the {n} finished raw runs, {lo:.1f}–{hi:.1f}% of test pixels are such values: the picture "
                 "looks fine because the evidence was clipped away.")
    return Verdict("holds" if in_unit and clipped else "does not hold", text)


def verdict_saturation(point, saturation_logit: float) -> Verdict:
    """Claim 6: where the sigmoid lives matters numerically. ``point`` is a
    :class:`services.bce_demo.LossAndGrad`; ``saturation_logit`` where float32's sigmoid reaches 1.0."""
    z, x = point.logit, point.target
    gap_loss = abs(point.sigmoid_bce - point.logits_bce)
    gap_grad = abs(point.sigmoid_bce_grad - point.logits_bce_grad)
    forms = (f"sigmoid + BCE gives {point.sigmoid_bce:.4g} nats with gradient {point.sigmoid_bce_grad:.4g}; "
             f"BCE-with-logits gives {point.logits_bce:.4g} nats with gradient {point.logits_bce_grad:.4g} "
             f"(exact: {point.exact:.4g}, {point.exact_grad:.4g}).")
    if gap_loss <= 1e-3 * max(1.0, point.exact) and gap_grad <= 1e-3:
        return Verdict("not shown", f"At logit {z:g}, target {x:g} the two forms agree: {forms} In float32 the sigmoid "
                                    f"returns exactly 1.0 from logit {saturation_logit:.2f} up: try a logit beyond it.")
    why = (f"torch.sigmoid({z:g}) is exactly {'1.0' if point.prob_is_exactly_one else '0.0'} in float32, "
           "so BCE's log term is clamped at −100 and its gradient is gone: "
           if point.prob_is_exactly_one or point.prob_is_exactly_zero else
           f"torch.sigmoid({z:g}) = {point.prob:.9g} has lost the precision BCE needs: ")
    return Verdict("holds", f"At logit {z:g}, target {x:g}: {why}{forms} With the sigmoid inside the loss the "
                            "pixel still learns.")
