"""The literature's claims as code (SPEC §3b): each claim states its source, preconditions, the
suites that test it per budget, a statistic with a 95% interval over seeds and a threshold
fixed in code, and a pure verdict function of ledger records (holds / violated /
inconclusive / not-applicable, with a one-line reason, the numbers and the trial ids used).

Layout:
    base.py        Claim, SuiteRun, Statistic, Outcome, CaseVerdict, ClaimVerdict (plain data)
    theory.py      which target SPEC §1 names for a setting (box, ℓ2 stationarity, or none: why)
    records.py     ledger records as TrialViews, grouped into cases (configurations)
    conditions.py  the shared tests and their thresholds: preconditions, finished, seeds,
                   converged, binds (never re-derive these in a claim)
    judging.py     decide one case from its checks and statistic; aggregate a claim's cases
    registry.py    CLAIMS in their fixed order; `select(ids)` for the CLI
    runner.py      trials of the selected claims at a budget; claims.json from a ledger
    <claim>.py     one module per claim, e.g. xie_li_box.py
Suites live in bench/suites/claims/<name>.yaml (runnable alone with `wdbench sweep PATH`).

How to add a claim:
 1. Write bench/claims/<slug>.py with a module docstring naming the paper, and a
    `STATISTIC = Statistic(metric, description, band)` (band: the threshold, fixed now).
 2. Write `judge(records) -> ClaimVerdict`: `trials = records.views(records)`, pick the
    trials it judges, and for each `records.cases(...)`: a precondition Check (conditions.py
    or one of your own, returning `Check(ok, phrase)`), the gates (conditions.converged,
    binds_box, ...), then `judging.decide(case, STATISTIC, applicable, gates)`; end with
    `judging.aggregate(CLAIM_ID, STATISTIC, case_verdicts)`.
 3. Declare `CLAIM = Claim(id, slug, title, source, statement, preconditions, STATISTIC,
    runs={"smoke": (SuiteRun(...),), "cpu": (...), "full": (...)}, judge=judge)`, with its
    suites under bench/suites/claims/ (smoke: seconds; cpu: ~2 minutes on 2 cores).
 4. Append the module to `registry.MODULES` (the order is the claims' ids).
 5. Test it in tests/bench/claims/ with records from tests/bench/claims/builders.py: reach
    every outcome it can give, and add its smoke run to the end-to-end test.
"""
