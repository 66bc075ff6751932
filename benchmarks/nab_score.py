#!/usr/bin/env python3
"""NAB scores of our detectors, chosen and measured so that they cannot flatter, beside published ones.

Evaluation protocol (fixed before the detector was tuned; change the detector, not this):

- Data: the 53 NAB series of ../shared/data/nab in seven families. Five more realTweets series exist;
  the checkers keep them back and nothing here looks for them.
- Everything a detector may have chosen on labelled data is a *candidate*: a named entry of
  `CANDIDATES` (a handful of detectors, declared in this file), plus the alert threshold of each
  NAB profile. Nothing else is tuned on NAB.
- SELECT(train): every candidate scores every training series (a fresh, causal detector per series);
  NAB's optimiser picks its standard-profile threshold on those series together; the candidate with
  the best normalised standard score wins (ties: the first listed). Its low-FP and low-FN thresholds
  are then optimised on the same training series.
- Held-out scores, the only ones that may be quoted as results:
  * leave one family out (LOFO): for each family F, SELECT(the other families) fixes candidate and
    thresholds, and F's series are scored with them. Per family, and overall over all 53 series
    (100 (sum raw - null) / (perfect - null) over the series so scored, as NAB normalises a corpus).
  * leave one series out within realTweets (LOSO): for each realTweets series s, SELECT(the other
    52 series, four realTweets among them) fixes candidate and thresholds; s is scored with them.
- "NAB threshold" rows keep the candidate chosen without the family but let NAB's optimiser pick the
  threshold on the family itself, as NAB's scorer does on any set it is given (and as the independent
  check of the kept-back series does). They are printed beside the strict rows, never instead.
- In-sample: SELECT(all 53) scored on the same 53. Printed apart, labelled in-sample: not a result.
  The shipped defaults of the detector are this in-sample choice (the held-out rows measure how well
  that way of choosing carries over to series it has not seen).
- Published scores (NAB's result files and final_results.json) had their thresholds optimised on the
  very series they are scored on (in-sample by this protocol's standard); they are printed as
  published.
- Caveat: the protocol was fixed first, but the detector's design (its statistics, calibration and
  onset rule; about forty variants) was developed while looking at these held-out figures. Only the
  realTweets series kept back by the checkers are free of that.

Second round (written before any of it was run; each change is measured once, in this order, and
kept only if it raises the deciding number without lowering the guard):
- Deciding number: overall NAB standard, leave one family out (held out). Guard: realTweets LOSO
  standard of whatever is the default of `crisiswatch detect` stays >= 81.7 (surge's first-round figure).
- Before it: the second round saw the first round's held-out table and per-series plots of the
  values, windows and detections of the 53 series (values and NAB windows; nothing of the five kept back).
- R2-1 scale by the nature of the series: counts (non-negative integers over the first day) keep
  log1p (a ratio scale); a continuous metric is compared on its own scale (raw differences: the
  rank calibration makes them unit-free, where log1p is linear for values << 1 and a ratio for
  values >> 1, so the unit of the metric changed the detector). Applies to "change".
- R2-2 "auto": decided per series from its first day: counts with Poisson-like or wider dispersion
  (variance of first differences >= 2 x mean) are mention-like volumes, scored by "surge" (rises
  only); anything else by "change". A third candidate beside surge and change.
- R2-3 a slow level statistic (6-hour level against the day's median) beside spike, shift, season,
  swing: drifts over hours (temperatures, resource exhaustion) that the 1-hour level reads as noise.
- R2-4 a learned combination: instead of the equal Bonferroni over statistics and sides, one offset
  per statistic and side (a grid of -0.5 .. +1.0 in S) chosen inside SELECT by coordinate ascent of
  the training series' NAB standard score; every held-out series is scored with offsets fitted
  without it (the same LOFO / LOSO folds).
- R2-5 calibration that does not learn from what it reported: the peaks of sampling intervals in
  which an episode was reported stay out of the calibration (as the rules' baselines never learn
  from buckets that fired), so a second anomaly of the same kind is still rare.
- Added after R2-1..R2-5 had run (same rules): R2-6 a "level" statistic: the last hour's level
  itself against its own history (the highest or lowest level in weeks, whatever the time of day),
  beside the ones kept.
- Added after R2-6 had run: R2-7 the row's evidence calibrated by the series itself instead of by
  Bonferroni: the smallest p over statistics and sides, as a surprise S0, is ranked against the
  peaks of S0 over past sampling intervals (the same `TailCalibration`), so a series whose
  statistics are often jointly extreme (heavy tails, drift) needs rarer evidence to report.
- Added after R2-7 had run: R2-8 a shorter warm-up: nothing reported in the first 12 hours (was 24)
  and a statistic used once it has 12 calibration samples (was 24, about 32 hours): a series met
  today can report tomorrow morning.

Second round, results (held out, NAB standard; each measured once, in this order; the first line
is the first round's detector measured in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  first round (surge/change per fold)          60.6         -          81.7
  R2-1 raw scale for measurements              60.2       dropped      (KC 54.1->43.9, AWS 57.8->64.0)
  R2-2 "auto" candidate                        61.4       kept         81.7 (per-fold choice: 87.7)
  R2-3 slow statistic                          64.8       kept         81.7
  R2-4 learned offsets per statistic           56.4       dropped      (in-sample 69.5: it overfits)
  R2-5 no calibration from reported intervals  56.8       dropped
  R2-6 level statistic                         65.2       kept         89.1
  R2-7 evidence calibrated by the series       36.2       dropped
  R2-8 shorter warm-up                         64.9       dropped
R2-6's +0.4 is within what one more or one fewer detected window moves (~1.9 per window over 99);
it was kept by the rule written above, not by judgement after the fact. As shipped (the level is
sampled from the first baseline on, like the other statistics, so a flat series never reports):
overall 65.2, surge alone on realTweets LOSO 88.8.
- Added after the above had run (same rules, same deciding number and guard):
  R2-9 measurements on both scales: "change" (and so "auto" on measurements) tests its statistics
  on log1p and on the raw values, Bonferroni over both (R2-1 showed families that need one and
  families that need the other; a fall of 35 -> 5 is huge in log1p, a rise of 35 -> 100 in raw).
  R2-10 a seasonal spike: the row against the median of the same time of day over the last week,
  beside the row against the day's median (a spike at night that is ordinary by afternoon).
  Results: R2-9 56.1 overall (KC 32.2, AdExchange 65.2): dropped. R2-10 62.3 (AdExchange 65.4,
  Traffic 39.1): dropped. Shipped: R2-2, R2-3, R2-6 (65.2 overall LOFO, 88.8 surge on realTweets LOSO).
- Added after R2-10 had run (same rules): R2-11 Simes instead of Bonferroni to combine the
  statistics: p = min over k of m p_(k) / k (p_(k) the k-th smallest of m), valid for positively
  dependent tests, equal to Bonferroni when one statistic is extreme and stronger when several
  agree (a real shift moves shift, slow, level and season together; noise mostly moves one).
  Result: 63.3 overall (in-sample 66.9; AWS 65.4 but AdExchange 66.4, Traffic 33.1): dropped.
- Where the rest of the gap to Numenta's 70.1 lies (measured on the shipped detector, so in-sample
  by nature): one threshold for all families. With each family's own NAB-optimised threshold the
  same scores give about 70.9 overall (Traffic 67.5 instead of 46.2 held out: several of its
  labelled anomalies are no rarer than excursions the series showed in its first days, so they
  score S ~ 1.1 where the other families' choice is 1.39; KnownCause 59.3, AWS 64.7), and
  with each series' own threshold 77.8. Learning per-statistic weights (R2-4) reached 69.5
  in-sample but 56.4 held out: what separates the families is not visible to a causal, label-free
  detector on the series so far.

Third round (written before any of it was run; same rules, deciding number and guard; each variant
is measured once with `--variant`, the shipped detector measured in the same session beside it):
the gap above is one bar for all series, so each series sets its own, causally and without labels.
- Before it: the third round saw the tables above and, label-free, the number of reports per day
  of each of the 53 series at S >= 1, 1.39, 2, 3 (about 0.1 to 1.6 a day at S >= 1).
- R3-1 an alert budget by the series' episode rate: if a series starts episodes (S >= floor) at
  rate r a day, and the tail above floor has the shape the calibration gives it, the S it must
  reach to page at a fixed rate is S + log10(r) + constant. So every report's S is lowered by
  log10(r / 0.5), r the episodes started over the last 7 days (the current one not counted),
  shrunk by a Gamma prior of 0.5 a day worth 2 days (0.5 a day: the middle of the counts above;
  the constant only moves what NAB's optimiser picks). A noisy series needs rarer evidence; a
  quiet one (realTraffic's travel times) pages on less. The ladder and episodes stay on raw S.
- R3-2 the same with half the weight (S lowered by 0.5 log10(r / 0.5)): the rate of 3-7 episodes
  a week is a noisy estimate, and NAB's labelled anomalies are themselves episodes that raise it.
- R3-3 a refractory period in the series' own rows: after a report, the next 36 rows (3 hours of
  5-minute rows, a day and a half of hourly ones) report nothing, ladder included; on top of
  R3-1 or R3-2 if one was kept (neither was: on the shipped detector).
- Added after R3-2 had run (same rules): R3-4 persistence for measurements: with sides="both"
  ("change", and "auto" on a measurement) an episode is reported only from its second consecutive
  row at S >= floor (a lone row of a latency or CPU series is the commonest false alarm; a real
  change lasts, and NAB's windows are a hundred rows wide, so one row late costs little). Counts
  ("surge") unchanged.
- Added after R3-4 had run (same rules): R3-5 a bar that rises with the alerts of the last day:
  every report's S is lowered by log10(1 + n), n the reports (onsets and ladder) this series made
  in the 24 hours before it (one report in the last day: S must be 0.3 higher;
  three: 0.6). Expected to lose (R3-3), measured to complete the brief's list.
Third round, results (held out, NAB standard; the shipped detector measured in the same session):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (second round)                       65.2         -          88.8
  R3-1 bar from the episode rate               57.2       dropped      84.6   (in-sample 62.5; KnownCause 42.6, Traffic 37.6)
  R3-2 half of R3-1's bar                      58.8       dropped      85.7   (in-sample 64.8)
  R3-3 refractory 36 rows                      51.7       dropped      77.0   (in-sample 58.1; KnownCause 25.6)
  R3-4 persistence for measurements            46.5       dropped      88.8   (in-sample 59.9; Traffic 14.5)
  R3-5 bar rising with the last day's alerts   60.9       dropped      80.8   (in-sample 63.7; Traffic 31.7)
Nothing of the third round shipped; the detector is the second round's. Why each failed, read from
the tables of those runs: R3-1's bar did raise the score some families reach at their own NAB
threshold (AWS 64.7 -> 66.1, AdExchange 74.1 -> 76.0, Traffic 67.5 -> 69.5) but moved the families'
best thresholds further apart, so a threshold chosen without a family fits it worse (KnownCause
56.1 -> 42.6; not checked row by row: perhaps episodes before its failures raise the bar); R3-2 the same,
halved. R3-3: the ladder's repeat reports within hours carry detections (KnownCause 56.1 -> 25.6):
presumably a first report before a window is followed by one inside it. R3-4: probably NAB's
labelled anomalies include lone rows (Traffic 46.2 -> 14.5; not checked row by row). R3-5: as R3-3, repeats carry detections.
The code of the variants is in the commits "NAB benchmark: R3-3 and R3-4 results" (`--variant
R3-n` of this script there) and "R3-5 ... written down before it is run" (`--r3-5`); it was
removed after, as the dropped changes of the second round were.

Fourth round (written before any of it was run; same rules, deciding number and guard; each variant
is measured once with `--variant R4-n`, the shipped detector's candidates scored in the same run
beside it): every statistic so far asks how far a level is from a baseline; none asks whether the
series is making the sequence it usually makes. NAB's contextOSE (CAD OSE: 69.9 standard published
over the 58 series, with in-sample thresholds and each series' global min and max given in advance)
asks only that. A second, different kind of evidence may separate the anomalies of the families
whose best thresholds differ, where one more level statistic did not.
- Before it: the fourth round saw the tables above and nothing new of NAB. The sequence model was
  written and tested on synthetic series only; it is run on NAB for the first time by these runs.
- The sequence statistics (`monitor/detectors/context.py`, written for this round from the idea,
  not from CAD's code), fixed before any run: y is the signed log1p the other statistics use; it is
  quantised to 8 equal-width levels across the range (min, max) of y over the rows before it
  (expanding: causal, where CAD is given the range of the whole file), plus one symbol for a row
  above everything seen and one for a row below everything seen (the range then takes the row in);
  a series that has not yet varied is at level 0. A variable-order Markov model predicts the symbol
  from the last 0..6 symbols (6 rows: half an hour of 5-minute rows), counts over all rows so far,
  Witten-Bell interpolation from order 0 (a uniform prior over the 10 symbols) up to order 6, a
  context never seen skipped. Two statistics: "context", the row's surprise -log2 P(symbol | the
  six before); "pattern", its EWMA over level_hours (an hour off the series' usual sequence). Both
  are tested on their upper side only, calibrated, combined (Bonferroni) and reported like the
  others (peaks per sampling interval, min_samples, floor, ladder, quiet_hours unchanged). A report
  is explained as the row against the value the context predicted (the expected level), since
  when, how rare. 8 levels are CAD's 3 bits; 6 rows and Witten-Bell are textbook choices, not tuned.
- Amended before any run on NAB, after the model's first synthetic tests (a square wave with
  noise, a daily curve that goes flat, a sawtooth that runs backwards): the row's surprise
  -log2 P was dominated by noise jittering into a level its context never saw (each order multiplies
  in its escape probability: 20 to 30 bits for a three-sigma blip, against 15 for a skipped beat),
  so it reported rare levels, which the level statistics do already. Now "context" is the distance
  |y - expected y| of the row from the level the model expects (the mean of its levels under the
  prediction, on the y scale) and "pattern" that distance's EWMA over level_hours; a row beyond
  the range seen is at the end level (the two extra symbols made every new extreme of noise a
  20-bit surprise). Everything else as written above.
- R4-1 a "context" candidate: the two sequence statistics alone (no level statistics), a fourth
  candidate beside surge, change and auto, which SELECT may choose per fold. The default of
  `crisiswatch detect` (surge) is untouched, so the guard holds by construction (printed anyway).
- R4-2 the sequence statistics join the statistics of surge, change and auto (one Bonferroni over
  all tests: 7 for surge, 14 for change). This is the ensemble "the larger of the two calibrated
  surprises" (the smallest p over the statistics is the largest calibrated surprise, less log10 of
  the number of tests), under one onset rule, so an event both see is reported once. Candidates:
  the three so extended (and "context" if R4-1 was kept). The guard applies to surge so extended.
- R4-3, run only if R4-2 is dropped: the sequence statistics join "change" only (and so "auto" on a
  measurement); surge, the default for mention volume and the detector of the live rules, stays as
  it is (a machine or a road that leaves its usual sequence is a fault; a mention volume's news are
  its rises). Candidates as in R4-2 otherwise.
- Not in this round, and why: a per-series rule from the first day (the sequence detector for series
  whose first day it predicts well): no label-free cut-off is known without looking at NAB, and
  choosing one inside SELECT is the kind of learning that overfit in R2-4. CAD's rest period after a
  report: R3-3 (a refractory period) lost 13.5 points.
- Kept means: overall LOFO of the per-fold choice above the shipped detector's in the same run, and
  surge's (the default's) realTweets LOSO >= 81.7. A kept variant becomes the default of what it
  touches, with its thresholds re-derived by the in-sample choice as before, unit tests, and the
  throughput target (>= 100,000 points/s per detector, benchmarks/detect.py); a dropped one leaves
  the code, its record stays here.
Fourth round, results (held out, NAB standard; the shipped detector measured in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (second round)                       65.2         -          88.8
  R4-1 "context" candidate                     65.2       dropped      88.8   (never chosen; context alone 44.5 overall LOFO, 57.6 realTweets LOSO)
  R4-2 sequence statistics in all three        61.9       dropped      86.6   (in-sample 66.4; auto alone 63.6; the artWithAnomaly fold chose surge: 59.0)
  R4-3 sequence statistics in change only      60.8       dropped      88.8   (in-sample 66.1; auto alone 62.4; the realTweets fold chose change: 76.4)
Nothing of the fourth round shipped; the detector is the second round's. Read from the tables of
those runs (not checked row by row): the sequence model alone is a weak detector (44.5 overall,
AWS 30.5) and no fold chose it. Its statistics did help the candidates that had no idea of the
series' shape: surge alone 57.1 -> 64.8 overall (Traffic 14.5 -> 46.3, KnownCause 48.8 -> 58.0,
AWS 56.7 -> 62.3), change alone 60.5 -> 63.0 (Traffic 43.1 -> 56.2). But not "auto", the candidate
the folds choose: at each family's own NAB threshold R4-3's auto is about as good as the shipped
one or better (Traffic 67.5 -> 68.0, artWithAnomaly 88.7 -> 91.2, KnownCause 59.3 -> 59.9,
realTweets and AdExchange the same, AWS 64.7 -> 63.7), while the threshold chosen without the
family fits worse (Traffic 46.2 -> 32.8,
realTweets 87.4 -> 86.4, though its realTweets scores, surge's, did not change). So, as in the third
round, the scores got better and the families' best thresholds further apart: auto puts counts
and measurements under one threshold, and evidence added to one reading moves where the joint
threshold falls for both. R4-2 also reported more on realTweets (FP rows of the per-fold choice 21
-> 37) and its artWithAnomaly fold chose surge (59.0, auto 85.9 there). The code of the variants is
in the commit "Detection: a sequence model (what level the last six rows predict) ..." (`--variant
R4-n` of this script there); it was removed after, as the dropped changes of earlier rounds were.

Fifth round (written before any of it was run; same rules, deciding number and guard; each variant
is measured once with `--variant R5-n`, the shipped detector (one threshold per profile) measured in
the same run beside it): every round above points at the single threshold. "auto" reads counts with
surge (5 tests, rises only) and measurements with change (12 tests, both sides), so the same S is not
the same evidence in the two readings, and evidence added to one reading moved the joint threshold
for both (rounds 3 and 4). The detector's scores are not touched in this round; only how the alert
threshold is chosen and applied.
- Before it: the fifth round saw the tables above and, label-free (values and timestamps of the
  first day only; no window, label or score), the kind "auto" gives each of the 53 series: 12 counts
  (the 5 realTweets, art_increase_spike_density, ec2_network_in_257a54, elb_request_count_8c0756,
  nyc_taxi, TravelTime_387, TravelTime_451, speed_6005) and 41 measurements; and their median
  interval and the share of rows missing from their first day.
- The kind of a series is what "auto" decides from its first day (`looks_like_counts` over the rows of
  its first quiet_hours): counts or measurement. Label-free and causal (known when the first day ends,
  before the detector may report), and a property of the series, so every candidate's scores of a
  series are thresholded by the same kind (surge and change read series of either kind too).
- R5-1 a threshold per kind: inside SELECT(train), for each candidate and profile, NAB's optimiser
  picks the counts threshold on the training series that are counts and the measurement threshold
  on the training series that are measurements. The normalised corpus score is a sum of raw scores
  over series (normalised by the windows of all training series), so the two choices separate and
  together are the best pair of thresholds on the training series. The candidate with the best
  normalised standard score over all training series at its two thresholds wins (ties: the first
  listed). A held-out series is scored at the threshold of its kind, for each profile. A kind whose
  training series hold no window takes the single threshold chosen on all training series (every
  fold keeps >= 7 counts series and >= 26 measurement series). The "NAB threshold" rows stay as they
  are (NAB's optimiser, one threshold on the family: what NAB's scorer does with any set it is given).
- R5-2 R5-1, with each kind's own threshold validated inside SELECT by an inner leave-one-family-out:
  per candidate, each training family G in turn is left out, the per-kind thresholds and the single
  threshold are chosen (standard profile) on the other training families, and G's series are scored
  at both. A kind keeps its own thresholds only if its series' raw standard score, summed over the
  inner folds, is higher at the kind's threshold than at the single one; otherwise its series take the
  single threshold chosen on all training series (for every profile). Why: R5-1's counts threshold
  is chosen on few series in some folds (7 in the realTweets fold, none of them tweets), and every
  round above met thresholds that fit the training families and not the one held out; the inner
  folds ask that question, with the labels of the training families only. The candidate is chosen
  by the normalised standard score over all training series at the thresholds so decided. Run after
  R5-1, whatever R5-1's result.
- Kept means: overall LOFO of the per-fold choice above the shipped detector's in the same run (and
  above R5-1's, for R5-2, if R5-1 was kept), and surge's (the default of `crisiswatch detect`)
  realTweets LOSO under the same variant's thresholds >= 81.7. The run prints each fold's thresholds
  per kind (and R5-2's decisions) beside the tables.
- Not in this round, and why: finer label-free kinds (by sampling interval: with hourly rows the
  one-hour EWMA is the row itself, so spike, shift and level are one test counted three times; by
  rows missing from the first day; integer measurements steadier than counting). Computed on the 53
  series before writing this, each finer kind lies almost within one family (hourly: realAdExchange
  and one realKnownCause series; gappy: realTraffic and one realKnownCause series), so leaving its
  family out leaves at most one training series of that kind, which falls back: they cannot be
  measured by this protocol.
- A kept variant becomes the product: the per-kind thresholds of the in-sample choice (SELECT on all
  53, per candidate) become the detectors' alert bars per kind (`ALERT_THRESHOLD`, and the bar the live
  rules' surge detector alerts at, for the kind of the rule's series), the kind decided from the
  series' first day exactly as "auto" decides it; with tests (a counts series and a measurement series
  get their own bars; `crisiswatch detect` end to end), `crisiswatch detect`'s CLI contract unchanged.
  A dropped variant leaves the code; its record stays here.

Fifth round, results (held out, NAB standard; the shipped detector measured in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (second round)                       65.2         -          88.8
  R5-1 a threshold per kind                    64.9       dropped      89.8   (in-sample 67.0; auto chosen in every fold)
  R5-2 per kind where inner LOFO says so       63.4       dropped      88.8   (in-sample 66.1, the shipped choice; realTweets fold chose change: 76.3)
R5-1, read from its run: the measurement threshold is S 1.39 in every SELECT, the single one's, so
nothing moved for measurements; counts get S 1.61 in every fold but one (realTweets 87.4 -> 89.8,
artWithAnomaly 85.0 -> 86.9, AWS 61.4 -> 62.0). Without realKnownCause the counts threshold is
chosen on the 11 other counts series and falls to S 1.13, and nyc_taxi, that family's one counts
series, is scored at it (KnownCause 56.1 -> 50.9, FP rows 71 -> 91), which outweighs the rest.

R5-2, read from its run: the inner folds kept no kind's own threshold in 11 of the 13 SELECTs,
the in-sample one included (so R5-2's in-sample choice is the shipped one). Without realTraffic they
kept the measurement threshold, at S 1.39, the single one's (nothing changed). Without realTweets,
change with a counts threshold of its own (S 1.23, kept by its inner folds) beat auto on the training
series and scored realTweets at 76.3 (87.4 by auto), which is R5-2's whole loss.
Nothing of the fifth round shipped; the detector and its thresholds are the second round's. What
the round says about the gap, read from the two runs: a kind's own threshold helps where the kinds'
best thresholds differ (counts S 1.61 against 1.39: realTweets +2.4, artWithAnomaly +1.9), but the
counts threshold is decided by 12 series, 5 of them realTweets, and moves with one of them
(nyc_taxi out: 1.61 -> 1.13); the measurement threshold did not move at all (1.39 in every fold),
so the families that lose most to the single threshold (realTraffic, 46.2 held out against 67.5
at its own; both kinds in it) lose as much to a threshold per kind. The code of the variants is in
the commits "NAB benchmark: --variant R5-1 / R5-2 ..." (this script there) and "Detection: the auto
detector's first-day decision is one piece ..."; it was removed after, as the dropped changes of
earlier rounds were.

Sixth round (written before it was run; same rules, deciding number and guard; measured once with
`--variant R6-1`, the shipped detector measured in the same run beside it):
- Before it: the sixth round saw the tables above and nothing new of NAB.
- R6-1 calibration from the second day on: the peaks and troughs of the sampling intervals that end within
  the first `baseline_hours` (24 h) of a series are not kept for calibration. Why: during the first day the
  day-long baseline (the median of the blocks so far) and the time-of-day profile are immature (a morning
  rise after a night of rows is read against a night-only baseline), so the first day's intervals peak
  higher than the series' later ordinary days; those peaks stay in a calibration that holds 28 days, the
  whole of most NAB series, so later anomalies of the same size read as ordinary (the second round's
  reading of realTraffic: several labelled anomalies no rarer than excursions of its first days). A
  statistic is then tested once it has min_samples of calibration from the second day on (about 56 h into
  a series instead of 32 h).
- Kept means: overall LOFO of the per-fold choice above the shipped detector's in the same run, and surge's
  realTweets LOSO >= 81.7. A kept variant becomes the default, with a unit test and the throughput target;
  a dropped one leaves the code, its record stays here.
Sixth round, results (held out, NAB standard; the shipped detector measured in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (second round)                       65.2         -          88.8
  R6-1 calibration from the second day on      59.4       dropped      75.8   (in-sample 61.3; KnownCause 46.9, Traffic 30.4; FP rows 221 -> 274)
Read from the run: the reading behind R6-1 was wrong. realTraffic at its own NAB threshold scores the same
with and without the first day's peaks (67.4 against 67.5), so they are not what makes its anomalies look
ordinary; leaving them out only shortened every calibration (more false alarms, 221 -> 274 rows) and
delayed the first tests by a day (the realTweets guard fails: 88.8 -> 75.8). The code of the variant is in
the commit "NAB benchmark: R6-1 result" (`--variant R6-1` of this script, `calibrate_after_hours` of
`SurgeSettings`); it was removed after, as the dropped changes of earlier rounds were.
Where realTraffic's loss lies (read after the sixth round from the shipped "auto" detector, with the
labels; a lead, not a result): per NAB window, the highest S reported inside it. Only realTraffic has
windows whose best S lies between 1.1 and 1.39 (3 of its 14: TravelTime_387 1.13, TravelTime_451 1.20,
speed_t4013 1.23; occupancy_6005 reaches 1.39 itself). In every other family each window's best S is
above 1.39 or below 1.1, so a lower bar gains them no window and costs false alarms: rows outside windows
at S >= 1.1 against S >= 1.39 are KnownCause 158 / 71, AWS 88 / 54, AdExchange 84 / 39, realTweets 42 /
21. A bar of its own for realTraffic would need a label-free property that singles out its series (its
gappy sampling is one), and leaving the family out leaves one such training series: the protocol cannot
choose it (the fifth round's note on finer kinds).
A second lead (stop 30, read from the benchmark's own table, not acted on): NAB's windowed Gaussian (the
row's tail probability under the mean and deviation of the last 6,400 rows) is the better detector on
realTraffic alone: 58.0 held out against auto's 46.2, 80.1 against 67.5 at the family's own NAB threshold,
while it is far below ours elsewhere (36.0 overall). So realTraffic's anomalies are ones a plain z-score
against weeks of rows sees and our calibration against past peaks reads as ordinary; a statistic of that
kind beside the others would be a seventh round, written here before it is run.

Seventh round (written before it was run; same rules, deciding number and guard; each variant measured
once with `--variant R7-n`, in this order, the shipped detector measured in the same run beside it):
- Before it: the seventh round saw the tables above (the second lead among them) and nothing new of NAB.
- The statistic, fixed before any run: "gauss", the row's y (the signed log1p of the other statistics)
  as a z-score against the mean and standard deviation of y over the rows of the last `history_days`
  (28 days; NAB's windowed Gaussian takes the last 6,400 rows, 22 days of 5-minute rows), kept as sums
  over the 15-minute blocks of that span (exact over whole blocks, O(1) a row); tested on both sides,
  once a day of rows is in it. It asks what the windowed Gaussian asks: how far is this row from
  what weeks of rows look like, where spike and shift ask it of the last day's median and level of
  the interval peaks.
- R7-1 "gauss" joins the statistics of "change" (and so of "auto" on a measurement) and is calibrated
  like them: its peaks and troughs per sampling interval, ranked by `TailCalibration`, one more test in
  the Bonferroni (two sides). Surge, the default and the live rules' detector, is untouched, so the
  guard holds by construction (printed anyway).
- R7-2 the same statistic, not calibrated: its p is the two-sided normal tail of z, as the windowed
  Gaussian's, counted in the Bonferroni like the others. This is the lead as read: our calibration
  against past peaks is what reads realTraffic's anomalies as ordinary. Expected to cost false alarms
  on heavy-tailed families (realKnownCause, realAWSCloudwatch: the Gaussian alone scores 5.1 and 25.8
  there). Run after R7-1, whatever R7-1's result.
- Kept means: overall LOFO of the per-fold choice above the shipped detector's in the same run, and
  surge's realTweets LOSO >= 81.7. A kept variant becomes the default of "change" (and so of "auto"),
  with its threshold re-derived by the in-sample choice, a unit test and the throughput target; a
  dropped one leaves the code, its record stays here.

Seventh round, results (held out, NAB standard; the shipped detector measured in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (second round)                       65.2         -          88.8
  R7-1 gauss, calibrated                       65.6       kept         88.8   (in-sample 66.2; FP rows 221 -> 186)
  R7-2 gauss, the normal tail itself           56.3       dropped      88.8   (in-sample 60.3; FP rows 391; realTraffic fold chose surge: 14.5)
The round's text did not say what R7-2 had to beat if R7-1 was kept; it beat neither. R7-1 is kept by
the rule, and its +0.4 is the size of one window (about 1.9 points per window over 99), as R2-6's was.
The lead itself did not hold: realTraffic, the family it was read from, fell (46.2 -> 39.9 held out,
67.5 -> 67.0 at its own threshold). The gain is elsewhere: KnownCause 56.1 -> 58.7, AdExchange
72.7 -> 76.8, artWithAnomaly 85.0 -> 88.6, realTweets (auto, so surge's scores under a new joint
threshold) 87.4 -> 89.1; AWS fell 61.4 -> 60.3. Low-FP overall 53.9 -> 55.7, low-FN
71.4 -> 69.4. The in-sample thresholds moved: auto S 1.39 -> 1.56 (in every
fold, and now surge's own), change 1.30 -> 1.31 (1.31 to 1.44 without each family): with a statistic
that compares a measurement with weeks of rows, measurements take the bar counts take, which is what
every round since the second asked for. R7-2's normal tail paged on heavy-tailed families (AWS
FP rows 54 -> 156) as expected. The code of both variants is in the commit "NAB benchmark: R7-1 and R7-2
results" (`--variant R7-n` of this script, `gauss` of `SurgeSettings`); R7-1 is now the "change"
detector's own statistic.

Eighth round (written before it was run; same rules, deciding number and guard; measured once with
`--variant R8-1`, the shipped detector (R7-1 included) measured in the same run beside it):
- Before it: the eighth round saw the tables above and nothing new of NAB.
- R8-1 gauss for counts too: "surge" (and so "auto" on counts, and the live rules) tests the gauss
  statistic of R7-1 on its upper side (more mentions in this row than weeks of rows make usual), one
  more test in its Bonferroni, calibrated like the others. R7-1 asked it of measurements only; the
  question is as fair of a mention count, and it is the one statistic of "change" that surge lacks
  besides swing (turbulence has no direction).
- Kept means: overall LOFO of the per-fold choice above the shipped detector's in the same run, and
  surge's realTweets LOSO >= 81.7. Kept, it becomes surge's, with its threshold re-derived in-sample,
  a unit test and the throughput target; dropped, it leaves the code and its record stays here.

Eighth round, R8-1's result (held out, NAB standard; the shipped detector, R7-1 included, in the same run):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  shipped (R7-1)                               65.6         -          88.8
  R8-1 gauss for counts too                    65.8       kept (*)     89.9   (in-sample 66.3; surge alone 57.1 -> 56.7 LOFO overall)
(*) +0.2 is a tenth of one window. Read from the run: KnownCause 58.7 -> 59.8, AWS 60.3 -> 60.6,
realTweets 89.1 -> 89.2 (surge alone 88.8 -> 89.9), Traffic 39.9 -> 38.3. Kept by the rule; but the
rule's detector keeps 28 days of 15-minute block sums per key, and surge runs the live rules, whose
state is saved every cycle: a key's saved state grows from 34 KB to 195 KB (35 days of 5-minute
rows). So, written before it is run:
- R8-2 the gauss statistic's weeks as exponentially weighted sums instead of block sums: the row
  against the mean and deviation of all earlier rows, each weighted exp(-age / (history_days / 2))
  (a time constant of 14 days: the mean age of a 28-day window's rows), normalised by the sum of
  the weights (so the first day is not pulled towards the first row), in "change" and in "surge";
  four numbers of state instead of 2,688 blocks; tested once a day of rows is in, as before.
  Kept (replacing the block sums) if its overall LOFO is not below R8-1's 65.8 and surge's realTweets
  LOSO >= 81.7. Otherwise R8-1 ships with its block sums saved compactly.

R8-2's result (same run conditions; R8-1 measured again beside it, identical):
  change                                   overall LOFO  decision   realTweets LOSO (surge alone)
  R8-1 gauss for counts, block sums            65.8         -          89.9
  R8-2 the same from decaying sums             65.9       kept         89.8   (in-sample 66.5; FP rows 184 -> 181)
Read from the run: KnownCause 59.8 -> 61.0, AdExchange, AWS, artWithAnomaly within 0.3, realTweets
89.2 -> 89.1, Traffic 38.3 -> 38.7. Shipped: gauss from four decaying sums, tested by every detector
("surge" on its upper side), a key's saved state 34 KB as before. In-sample thresholds: surge S 1.56 ->
1.57 (1.57 to 1.59 without each family), change 1.31 (1.31 to 1.33), auto 1.56 (1.56 in every fold).
Against the second round's detector, the seventh and eighth rounds together: overall LOFO 65.2 -> 65.9,
realTweets LOSO 87.4 -> 89.1 per fold and 88.8 -> 89.8 for surge alone, realTraffic 46.2 -> 38.7 (the
family the lead came from). Each step was within a window's worth (1.9 points) of the last. The code of
R8-1 and R8-2 is in the commit "NAB benchmark: R8-2's result" (`--variant R8-n` of this script,
`gauss_counts` and `gauss_decay` of `SurgeSettings`).

The candidates are three faces of one detector: "surge" (rises only: the default of
`crisiswatch detect` and the detector behind the live rules), "change" (rises, falls and
turbulence) and "auto" (the series' first day picks one of the two). "HELD OUT, each candidate
alone" answers "how does surge do on a realTweets series it has not seen" (LOSO); the per-fold
choice answers "how does choosing among them do on a family it has not seen" (LOFO overall).

Usage: benchmarks/nab_score.py [--nab ../shared/data/nab] [--chart FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nab import (
    FAMILIES,
    PROFILES,
    Corpus,
    load_corpus,
    normalised,
    optimise,
    raw_at_threshold,
    threshold_table,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor.detectors.anomaly import score_series  # noqa: E402

PUBLISHED_TWEETS = {  # NAB's own scorer on the five shared realTweets series (../shared/README.md)
    "ARTime": 88.1, "earthgecko_skyline": 77.8, "contextOSE": 76.0, "numenta": 67.4, "twitterADVec": 66.0,
    "windowedGaussian": 64.8,
}
# The candidates SELECT chooses among (see the protocol above): few, and each a principled variant.
# Each is a detector of monitor.detectors.anomaly at its defaults.
CANDIDATES: dict[str, str] = {
    "surge": "rises only (the default: mention volume)",
    "change": "rises, falls and turbulence",
    "auto": "the first day decides: counts -> surge, a measurement -> change",
}

@dataclass
class Choice:
    candidate: str
    thresholds: dict[str, float]  # per profile


def select(corpus: Corpus, scored: dict[str, list[np.ndarray]], train: list[int]) -> Choice:
    """SELECT(train) of the protocol: best candidate by normalised standard score, then thresholds."""
    n_windows = corpus.n_windows(train)

    def fit(name: str, profile: str) -> tuple[float, float]:
        series = [(corpus.sweeps(profile)[i], scored[name][i]) for i in train]
        score, threshold, *_ = optimise(series, corpus.profiles[profile], n_windows)
        return score, threshold

    best = max(scored, key=lambda name: fit(name, "standard")[0])  # max keeps the first of equals
    return Choice(best, {p: fit(best, p)[1] for p in PROFILES})


def raw_scores(corpus: Corpus, scored: dict[str, list[np.ndarray]], i: int, choice: Choice) -> dict[str, float]:
    anomaly = scored[choice.candidate][i]
    return {p: raw_at_threshold(corpus.sweeps(p)[i], anomaly, corpus.profiles[p], choice.thresholds[p])
            for p in PROFILES}


@dataclass
class Row:
    label: str
    series: list[int]
    raw: dict[str, float]  # summed over the series
    false_alarms: int
    chosen: str


def _row(corpus: Corpus, scored, label: str, picks: dict[int, Choice]) -> Row:
    raw = {p: 0.0 for p in PROFILES}
    fps = 0
    for i, choice in picks.items():
        for p, r in raw_scores(corpus, scored, i, choice).items():
            raw[p] += r
        sweep = corpus.sweeps("standard")[i]
        hit = np.asarray(scored[choice.candidate][i]) >= choice.thresholds["standard"]
        fps += int((hit & (sweep.window == -1)).sum())
    chosen = sorted({c.candidate for c in picks.values()})
    return Row(label, list(picks), raw, fps, ",".join(chosen))


def protocol_rows(corpus: Corpus, scored: dict[str, list[np.ndarray]]) -> dict[str, list[Row]]:
    everything = corpus.indices()
    present = {s.family for s in corpus.series}
    families = [f for f in FAMILIES if f in present] + sorted(present - set(FAMILIES))
    lofo: dict[int, Choice] = {}
    for fam in families:
        held = set(corpus.indices(fam))
        choice = select(corpus, scored, [i for i in everything if i not in held])
        lofo.update({i: choice for i in held})
    tweets = corpus.indices("realTweets")
    loso = {i: select(corpus, scored, [j for j in everything if j != i]) for i in tweets}
    insample = select(corpus, scored, everything)
    rows = {
        "held-out": [_row(corpus, scored, "realTweets (LOSO)", loso)]
        + [_row(corpus, scored, f"{fam} (LOFO)", {i: lofo[i] for i in corpus.indices(fam)}) for fam in families]
        + [_row(corpus, scored, "overall (LOFO)", lofo)],
        "nab-threshold": [],
        "in-sample": [_row(corpus, scored, fam, {i: insample for i in corpus.indices(fam)}) for fam in families]
        + [_row(corpus, scored, "overall", {i: insample for i in everything})],
    }
    for fam in families:  # LOFO candidate, threshold optimised by NAB on the family itself
        idx = corpus.indices(fam)
        name = lofo[idx[0]].candidate
        nab_choice = Choice(name, {})
        for p in PROFILES:
            table = threshold_table([(corpus.sweeps(p)[i], scored[name][i]) for i in idx], corpus.profiles[p])
            nab_choice.thresholds[p] = float(table.thresholds[table.best()])
        rows["nab-threshold"].append(_row(corpus, scored, f"{fam} (LOFO pick)", {i: nab_choice for i in idx}))
    return rows


def _print_rows(corpus: Corpus, rows: list[Row]) -> None:
    print(f"  {'series scored':<30}{'n':>4}{'windows':>8}{'standard':>10}{'low_FP':>8}{'low_FN':>8}"
          f"{'FP rows':>9}  chosen")
    for r in rows:
        nw = corpus.n_windows(r.series)
        scores = "".join(f"{normalised(r.raw[p], nw, corpus.profiles[p]):>{w}.1f}"
                         for p, w in zip(PROFILES, (10, 8, 8), strict=True))
        if nw == 0:  # no windows (artificialNoAnomaly): nothing to normalise by; its false alarms count overall
            scores = f"{'-':>10}{'-':>8}{'-':>8}"
        print(f"  {r.label:<30}{len(r.series):>4}{nw:>8}{scores}{r.false_alarms:>9}  {r.chosen}")


def _standard(corpus: Corpus, row: Row) -> str:
    nw = corpus.n_windows(row.series)
    if not nw:
        return f"{row.false_alarms} FP"
    return f"{normalised(row.raw['standard'], nw, corpus.profiles['standard']):.1f}"


def reproduce_published(nab: Path) -> None:
    """Our scorer on NAB's published result files: must give NAB's published realTweets scores."""
    corpus = load_corpus(nab, ("realTweets",))
    print("Scorer check: NAB's published result files on the 5 shared realTweets series")
    print(f"  {'detector':<16}{'standard':>10}{'published':>11}{'low_FP':>8}{'low_FN':>8}{'S(t) max |diff|':>17}")
    root = nab / "published_results"
    for det in sorted(d.name for d in root.iterdir() if d.is_dir()):
        scores, s_std = [], []
        for s in corpus.series:
            with (root / det / f"{det}_{s.name}.csv").open(newline="") as f:
                rows = list(csv.DictReader(f))
            if len(rows) != len(s.values):
                raise ValueError(f"{det} {s.name}: {len(rows)} rows, data has {len(s.values)}")
            scores.append(np.array([float(r["anomaly_score"]) for r in rows]))
            s_std.append(np.array([float(r["S(t)_standard"]) for r in rows]))
        res = {p: optimise(list(zip(corpus.sweeps(p), scores, strict=True)), corpus.profiles[p],
                           corpus.n_windows())[0] for p in PROFILES}
        # Newer NAB result files carry the sweep score of every row; older ones only detections'.
        full = all(col[0] != 0.0 for col in s_std)
        diff = max(float(np.abs(sw.weighted - col).max()) for sw, col in zip(corpus.sweeps("standard"), s_std,
                                                                             strict=True))
        print(f"  {det:<16}{res['standard']:>10.1f}{PUBLISHED_TWEETS.get(det, float('nan')):>11.1f}"
              f"{res['reward_low_FP_rate']:>8.1f}{res['reward_low_FN_rate']:>8.1f}"
              f"{(f'{diff:.1g}' if full else 'n/a (old fmt)'):>17}")


def score_corpus(corpus: Corpus, run: Callable[[list, list], list[float]], label: str) -> list[np.ndarray]:
    t0 = time.perf_counter()
    out = [np.asarray(run(s.timestamps, s.values), dtype=float) for s in corpus.series]
    points = sum(len(s.values) for s in corpus.series)
    print(f"  scored {label}: {points:,} points in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab", default=str(Path(__file__).resolve().parents[1] / "../shared/data/nab"))
    parser.add_argument("--chart", help="write a PNG of held-out vs in-sample scores per family")
    args = parser.parse_args(argv)

    nab = Path(args.nab)
    reproduce_published(nab)
    corpus = load_corpus(nab)
    print(f"\n{len(corpus.series)} series, {corpus.n_windows()} windows; candidates: "
          + "; ".join(f"{k} ({v})" for k, v in CANDIDATES.items()))
    surge = {name: score_corpus(corpus, lambda ts, vs, name=name: score_series(ts, vs, name), name)
             for name in CANDIDATES}
    gaussian = {"gaussian": score_corpus(corpus, lambda ts, vs: score_series(ts, vs, "gaussian"), "gaussian")}
    print("\nHELD OUT, each candidate alone (standard profile; its thresholds chosen without the series scored)")
    held = [r.label.split(" (")[0] + (" LOSO" if "LOSO" in r.label else "") for r in protocol_rows(corpus, gaussian)["held-out"]]
    print(f"  {'candidate':<12}" + "".join(f"{h.replace('real', '').replace('artificial', 'art')[:13]:>14}" for h in held))
    for name in CANDIDATES:
        rows = protocol_rows(corpus, {name: surge[name]})
        print(f"  {name:<12}" + "".join(f"{_standard(corpus, r):>14}" for r in rows["held-out"]))
        print(f"  {'  NAB thr.':<12}{'':>14}" + "".join(f"{_standard(corpus, r):>14}" for r in rows["nab-threshold"])
              + "   (threshold by NAB's optimiser on the family itself)")
    results = {}
    for det, scored in (("surge/change/auto, chosen per fold", surge), ("gaussian (NAB's windowed Gaussian)", gaussian)):
        rows = protocol_rows(corpus, scored)
        results[det] = rows
        print(f"\n{det}: HELD OUT (settings and thresholds chosen without the series scored)")
        _print_rows(corpus, rows["held-out"])
        print(f"{det}: held-out candidate, threshold by NAB's optimiser on the family itself")
        _print_rows(corpus, rows["nab-threshold"])
        print(f"{det}: in-sample (chosen on all 53 and scored on them: NOT a result)")
        _print_rows(corpus, rows["in-sample"])
    final = json.loads((nab / "final_results.json").read_text())
    print("\nPublished overall NAB scores (all 58 series, thresholds optimised in-sample): "
          + ", ".join(f"{k} {v['standard']:.1f}/{v['reward_low_FP_rate']:.1f}/{v['reward_low_FN_rate']:.1f}"
                      for k, v in sorted(final.items(), key=lambda kv: -kv[1]["standard"]) if k != "null"))
    print("Published realTweets (the 5 shared series, NAB's optimiser on them): "
          + ", ".join(f"{k} {v}" for k, v in PUBLISHED_TWEETS.items()))
    if args.chart:
        chart(corpus, results["surge/change/auto, chosen per fold"], args.chart)
    return 0


def chart(corpus: Corpus, rows: dict[str, list[Row]], path: str) -> None:
    import matplotlib  # lazy: only for --chart (matplotlib's import costs a second)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def standard(row: Row) -> float:
        return normalised(row.raw["standard"], corpus.n_windows(row.series), corpus.profiles["standard"])

    held = [r for r in rows["held-out"] if corpus.n_windows(r.series)]
    labels = [r.label.split(" (")[0] for r in held]
    inside = {r.label: standard(r) for r in rows["in-sample"]}
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(held))
    ax.bar(x - 0.2, [standard(r) for r in held], 0.4, label="held out (LOSO / LOFO)")
    ax.bar(x + 0.2, [inside.get(lab, inside.get("overall", np.nan)) for lab in labels], 0.4,
           label="in-sample (not a result)", alpha=0.5)
    ax.set_xticks(x, [f"{lab}\n{r.label.split('(')[1].rstrip(')')}" for lab, r in zip(labels, held, strict=True)],
                  fontsize=7)
    ax.axhline(70.1, color="k", lw=0.8, ls="--", label="Numenta HTM, published overall (58 series)")
    ax.set_ylabel("NAB standard")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
