"""One table of named quantities: what the record, the ledger's flat table, the report's
headers and CSVs, and the CLI summary call each column.

A column's key is the name a user greps for and passes to `--set` (where it is a setting);
its symbol, where one is usual (λ for weight_decay), only stands beside it in a header. The
definition is shown on hover in the HTML report. `origin` says where the value comes from:
'record' (a trial record, `bench.ledger.store.flatten` puts it in the flat table) or 'report' (the
report derives it from several records: counts, intervals, verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.trial.config import FIELDS
from bench.trial.fields import BOOKKEEPING

Better = Literal["higher", "lower"] | None
# Display formats: 'g3' / 'g4' significant digits, 'int', 'pct' (share as %), 'text'.
Format = Literal["g3", "g4", "int", "pct", "text"]


@dataclass(frozen=True)
class Quantity:
    key: str
    definition: str
    symbol: str | None = None
    unit: str | None = None
    better: Better = None
    fmt: Format = "g4"
    origin: Literal["record", "report"] = "record"

    @property
    def header(self) -> str:
        """'weight_decay (λ)': the greppable key first, the symbol beside it."""
        return f"{self.key} ({self.symbol})" if self.symbol else self.key

    @property
    def tooltip(self) -> str:
        parts = [self.definition.rstrip(".") + "."]
        if self.unit:
            parts.append(f"Unit: {self.unit}.")
        if self.better:
            parts.append(f"{self.better.capitalize()} is better.")
        return " ".join(parts)


def _c(key: str, definition: str, **kw) -> Quantity:
    return Quantity(key, definition, **kw)


def _r(key: str, definition: str, **kw) -> Quantity:
    return Quantity(key, definition, origin="report", **kw)


COLUMNS: tuple[Quantity, ...] = (
    # --- identity and configuration -------------------------------------------------------
    _c("id", "Trial id: the file trials/<id>.json in the ledger", fmt="text"),
    _c("status", "done | diverged | failed", fmt="text"),
    _c("suite", "Suite the trial was run from", fmt="text"),
    # The Trial's fields, as bench/trial/config.py declares them (a `--set` key each).
    *(_c(f.name, f.definition, symbol=f.symbol, fmt=f.fmt) for f in FIELDS.values() if f.column),
    _c("config_key", "The (configuration, seed) the trial is a sample of: a hash of every "
       "Trial field but " + ", ".join(f.name for f in FIELDS.values() if f.role == BOOKKEEPING)
       + "; the analysis counts one record per key, the latest finished", fmt="text"),
    _c("lr_wd", "η·λ: the decay per step at the peak lr in PyTorch's decoupled convention "
       "(the (η, ηλ) parametrization of Wang & Aitchison)", symbol="ηλ", fmt="g3"),
    _c("tau_iter", "EMA timescale of the weights in steps (Wang & Aitchison, arXiv "
       "2405.13698): 1/(η·λ) for decoupled and corrected decay at the peak lr, 1/λ for "
       "independent and fixed decay; empty for coupled, cautious and no decay, or λ = 0",
       symbol="τ_iter", unit="steps", fmt="g3"),
    _c("tau_epoch", "tau_iter / steps_per_epoch: the EMA timescale in epochs",
       symbol="τ_epoch", unit="epochs", fmt="g3"),
    _c("steps_per_epoch", "Steps that see every training example once (training examples "
       "// batch size); 1 for full-batch tasks, whose every step sees the whole objective",
       fmt="int"),
    _c("schedule_theorem", "The schedule is non-increasing with a divergent sum: the "
       "condition of the implicit-bias theorem (Xie & Li 2024, SPEC §1)", fmt="text"),
    _c("decay", "Decay style actually used (`--set decay=`): where weight decay enters "
       "the update (SPEC §2)", fmt="text"),
    _c("direction", "Update direction (adam, sign, lion, sgd, ...)", fmt="text"),
    _c("norm", "Norm of the steepest descent the direction approximates", fmt="text"),
    _c("radius", "Radius the decay style implies for the ℓ∞ box (1/λ for decoupled decay); "
       "empty where no box is predicted", symbol="r", fmt="g3"),
    _c("metric_radius", "Radius linf_ratio is measured against: the implied radius, or 1/λ "
       "as a reference for coupled decay", symbol="r", fmt="g3"),
    _c("code_fingerprint", "Hash of the source files that determine the trial's numbers "
       "(harness+optimizer); records of other code are stale", fmt="text"),
    _c("diverged_at", "Step of the first non-finite loss or parameter", fmt="int"),
    _c("data_fingerprint", "Hash of the task's data", fmt="text"),
    _c("data_source", "Where the task's data came from", fmt="text"),
    _c("n_params", "Model parameters", fmt="int"),
    _c("mask_decayed", "Decayed tensors", fmt="int"),
    _c("mask_undecayed", "Tensors without decay", fmt="int"),
    _c("error", "Last line of a failed trial's traceback", fmt="text"),
    _c("stack_group", "The stacked group the trial ran in (bench/engine/stacked: trials differing "
       "only in lr, λ and seed trained in one process); empty: it ran alone", fmt="text"),
    _c("stack_size", "Trials of its stacked group; empty: it ran alone", fmt="int"),
    # --- final metrics ------------------------------------------------------------------
    _c("train_loss", "Training loss, mean over the last evaluation interval", better="lower"),
    _c("val_loss", "Validation loss", better="lower"),
    _c("test_loss", "Test loss at the end", better="lower"),
    _c("val_accuracy", "Validation accuracy", better="higher"),
    _c("test_accuracy", "Test accuracy at the end", better="higher"),
    _c("train_accuracy", "Training accuracy", better="higher"),
    _c("val_perplexity", "Validation perplexity: exp(val_loss)", better="lower"),
    _c("test_perplexity", "Test perplexity: exp(test_loss)", better="lower"),
    _c("gap", "Generalization gap: val_loss − train_loss", better="lower"),
    _c("radius_t", "The radius linf_ratio is measured against at this point: metric_radius, "
       "or for styles whose radius moves with the lr (fixed: η_t/λ, corrected: η_max/(λη_t)) "
       "its value at η_t", symbol="r_t", fmt="g3"),
    _c("linf_ratio", "‖x‖∞ / r at the end (≤ 1: inside the box)"),
    _c("violation", "max(0, linf_ratio − 1)", better="lower"),
    _c("fw_gap_rel", "Frank-Wolfe gap over its scale, fw_gap / (r‖g‖₁) = 1 + ⟨g, x⟩/(r‖g‖₁): "
       "0 at a KKT point on the box's boundary, but ≥ 1 − ‖x‖∞/r whatever g, so it stays near 1 "
       "at a KKT point inside the box (g → 0) and cannot show convergence there; use "
       "kkt_residual for that", better="lower"),
    _c("kkt_residual", "Frank-Wolfe gap of the box problem now over its value at the initial "
       "point, fw_gap(x_t) / fw_gap(x_0), both at the current radius r_t with the same gradient "
       "rule (full batch on synthetic tasks, the fixed probe batches on real ones): 1 at step 0, "
       "0 exactly at every KKT point of min L s.t. ‖x‖∞ ≤ r_t, interior ones included (SPEC §3). "
       "Negative where x is outside the box (the gap is then < 0: read it beside linf_ratio); "
       "empty (NaN) where fw_gap(x_0) ≤ 1e-9·r‖g_0‖₁ (x_0 already a KKT point or outside the "
       "box), where no box is measured (λ = 0) or the trial resumed from a checkpoint that "
       "predates the metric", better="lower"),
    _c("ball_kkt_residual", "kkt_residual with each tensor in the ball of its own optimizer's "
       "norm (ball_fw_gap(x_t) / ball_fw_gap(x_0), the gap Σ ⟨g, x⟩ + r N*(g) over tensors; "
       "ℓ∞ box for Adam, SignGD and Lion, spectral ball for Muon's matrices, ℓ2 for SGD): 0 "
       "exactly at every KKT point of the product of those balls; NaN as for kkt_residual",
       better="lower"),
    _c("boundary_frac", "Share of decayed coordinates within 1% of the radius"),
    _c("l2_stationarity", "‖g + λx‖ / (‖g‖ + λ‖x‖): 0 at a stationary point of "
       "loss + λ/2‖x‖²"),
    _c("dist_box", "Distance to the box optimum, relative to ‖c‖ (quadratic task)",
       better="lower"),
    _c("ball_ratio", "‖x‖ / r with each tensor in the norm its direction is steepest for "
       "(ℓ∞ for Adam, SignGD, Lion; spectral for Muon's matrices; ℓ2 for SGD); the largest "
       "over tensors (≤ 1: inside the optimizer's own ball)"),
    _c("spectral_ratio", "λ·σ_max(W)/s: the largest singular value of the decayed matrices "
       "over the spectral radius s/λ (≤ 1: inside the spectral ball); reported for every "
       "optimizer"),
    _c("l2_ratio", "λ‖x‖₂ per tensor over the ℓ2 ball of radius 1/λ, the largest over tensors"),
    _c("dist_spectral", "Distance to the spectral-ball optimum, relative to ‖C‖ (matrix "
       "quadratic task)", better="lower"),
    _c("dist_l2", "Distance to the ℓ2-regularised optimum, relative to ‖c‖ (quadratic task)"),
    _c("angular_update_mean", "Mean over decayed tensors of the angle between W_{t-1} and "
       "W_t, the last step's rotation (Kosson et al., arXiv 2305.17212)", unit="rad",
       fmt="g3"),
    _c("angular_update_cv", "Spread of the angular update across decayed tensors: std / mean "
       "(0: every layer rotates alike, as rotational equilibrium predicts for AdamW)",
       fmt="g3"),
    _c("weight_norm_cv", "Spread of the Frobenius weight norm across decayed tensors: "
       "std / mean", fmt="g3"),
    _c("wall_s", "Wall time of one trial", unit="s", better="lower"),
    _c("target", "The task's declared target of its selection metric for this budget "
       "(AlgoPerf-style scoring); empty where the budget declares none"),
    _c("target_reached", "The validation curve reached the target", fmt="text"),
    _c("steps_to_target", "First step at which the selection metric reached the target, "
       "interpolated between evaluations; inf if never", better="lower", fmt="g3"),
    _c("time_to_target_s", "Training seconds to the target on the same curve; inf if never",
       unit="s", better="lower", fmt="g3"),
    _c("headline_figure", "The figure the report's index leads with for this task", fmt="text"),
    _c("step_s", "Time per training step", unit="s", better="lower"),
    _c("tokens_per_s", "Training throughput", unit="tokens/s", better="higher"),
    # --- derived by the report --------------------------------------------------------------
    _r("variant", "Config fields besides lr and weight_decay that vary between one "
       "optimizer's trials", fmt="text"),
    _r("seeds", "Seeds finished at this configuration", fmt="text"),
    _r("trials", "Recorded trials", fmt="int"),
    _r("done", "Finished trials (of all recorded)", fmt="int"),
    _r("diverged", "Diverged trials", fmt="int"),
    _r("failed", "Failed trials", fmt="int"),
    _r("delta", "Paired difference of the selection metric to the top row over common "
       "seeds, ± 95% interval", symbol="Δ vs #1"),
    _r("p_value", "Two-sided p-value of the paired t-test (scipy.stats.ttest_rel) that Δ vs #1 "
       "is zero, over the seeds both rows finished; empty below two pairs", fmt="g3"),
    _r("bootstrap_ci", "95% percentile-bootstrap interval of the selection metric's mean "
       "over seeds (scipy.stats.bootstrap; from 5 seeds)", fmt="text"),
    _r("profile_score", "Area under the optimizer's performance profile ρ(τ) for τ in [1, 4], "
       "divided by 3: 1 = fastest to the target on every task, 0 = never within 4× of the "
       "fastest (AlgoPerf's score)", better="higher", fmt="g3"),
    _r("tasks_reached", "Tasks on which some configuration reached the target", fmt="int"),
    _r("tasks_fastest", "Tasks on which the optimizer was the fastest to the target", fmt="int"),
    _r("tasks_scored", "Tasks (report groups) that declare a target", fmt="int"),
    _r("inside", "Finished trials with linf_ratio ≤ 1.001, over every lr, λ and seed (— where "
       "no box is predicted)", fmt="int"),
    _r("max_linf_ratio", "Largest final linf_ratio over lrs, λ and seeds"),
    _r("configurations", "Configurations (settings, lr, λ) the claims judged", fmt="int"),
    _r("claim", "A claim of the literature as code (bench/claims, `wdbench claims list`): its "
       "id and title", fmt="text"),
    _r("verdict", "The claims' verdicts (SPEC §3b): holds, violated, inconclusive or "
       "not-applicable, each decided by the claim's own code from the records; hover for the "
       "reasons and numbers", fmt="text"),
    _r("statistic", "The claim's statistic, mean over seeds with its 95% t-interval, at the "
       "configuration that decides the claim's verdict (the worst violation, the first "
       "inconclusive case, or the holding case closest to the threshold)", fmt="text"),
    _r("threshold", "Where the statistic must lie for the claim to hold: its 95% interval "
       "inside this band holds, wholly outside it is violated (fixed in the claim's code)",
       fmt="text"),
    _r("cases", "Configurations judged, by verdict", fmt="text"),
    _r("evidence", "The verdict's reason as the claim's code wrote it from its numbers",
       fmt="text"),
    _r("figure", "The figure that shows the claim's statistic per configuration", fmt="text"),
    _r("best_wd_by_lr", "lr → λ with the best mean selection metric", fmt="text"),
    _r("wd_shift_steps", "How many λ grid steps the best λ moves across lrs: 0 = separable"),
    _r("wd_shift_decades", "log10(max/min) of the best λ across lrs"),
    _r("best_lr_wd_by_lr", "lr → η·λ with the best mean selection metric", fmt="text"),
    _r("lr_wd_shift_steps", "As wd_shift_steps with η·λ in place of λ: steps over the sorted "
       "η·λ values of the grid"),
    _r("lr_wd_shift_decades", "log10(max/min) of the best η·λ across lrs: 0 = η·λ (the EMA "
       "timescale) separates from lr"),
    _r("within_1", "Share of lr × λ cells within 1% of the best (diverged or missing cells "
       "count as not within)", fmt="pct", better="higher"),
    _r("within_5", "As within_1, within 5%", fmt="pct", better="higher"),
    _r("cells", "Grid cells where every seed finished", fmt="int"),
    _r("reason", "Why the trial did not finish", fmt="text"),
)

# A CSV spells out what a table cell combines: "<key><suffix>".
SUFFIXES = {
    "_ci95_halfwidth": "half-width of the 95% t-interval over seeds",
    "_seeds": "seeds the mean is over",
    "_of": "the total the count is out of",
}

_BY_KEY = {c.key: c for c in COLUMNS}


def get(key: str) -> Quantity:
    """The column named `key`; KeyError naming the table to extend otherwise."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"{key!r} is not a column of bench/schema.py:COLUMNS; add it "
                       "there") from None


def has(key: str) -> bool:
    return key in _BY_KEY


def resolve(name: str) -> Quantity:
    """A CSV column name (a key, or a key with one of SUFFIXES) -> its column."""
    if name in _BY_KEY:
        return _BY_KEY[name]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in _BY_KEY:
            return _BY_KEY[name.removesuffix(suffix)]
    return get(name)


def record_keys() -> list[str]:
    return [c.key for c in COLUMNS if c.origin == "record"]
