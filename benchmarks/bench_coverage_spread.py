"""How far one set's coverage scatters when the interval is calibrated in expectation (issue 11).

The issue asks for 90% intervals covering 85-95% of the held-out points on *every* real set with
at least 20 held out (and 80% / 95% within 5 points of nominal). The held-out points of one set
are not independent draws: they share one fitted function, so one realisation of the form's
misfit, and often a handful of sizes, runs or one mixture share. A set's coverage is therefore
closer to a few all-or-nothing draws than to a binomial on its point count, and even an interval
whose coverage is right on average scatters from set to set. This script measures that scatter on
synthetic replicates whose held-out structure resembles the real sets, with the library's default
calibrated interval, and counts the independent units of each real set's held-out points.

DECISION RULE (written and committed before any replicate of this script ran)
-------------------------------------------------------------------------------
Bands: at 90%, a set's coverage in [85%, 95%]; at 80%, [75%, 85%]; at 95%, [90%, 100%]
(inclusive; the issue's per-set criterion).

1. A synthetic family is *calibrated in expectation* at level L if the mean over its replicates
   of the default interval's coverage is within 3 points of L. Only such families enter the
   verdict at L; the others are reported (mean, spread) but say nothing about attainability.
2. For each such family and level, p = the share of replicates whose coverage lies in the band.
   If p < 0.90, the per-set band is *not attainable by a method calibrated in expectation* at
   that family's held-out structure and sample size: even such a method misses the band on more
   than one set in ten.
3. Across the 19 real sets, each set gets the p of the family matching its held-out structure:
   Epoch and OPT (many N values, one fit): the mean of the two random-(N, D) families (interact,
   kaplan); the three Gordon sets: gordon_grid (kaplan_nd on a 6 N x 14 D grid, the largest 2 N
   held out, as theirs); the eight mixture sets (dml, cpu_dcpt; one held-out share): mixture; the
   six schedule sets (no synthetic family here): the median p over the families calibrated in
   expectation. A matching family not calibrated in expectation is replaced by that median too.
   Then, treating sets as independent, P(all 19 within the band) = prod p_set, the expected number
   outside = sum (1 - p_set), and the Poisson-binomial distribution of that number.
4. Verdict per level: if the observed number of real sets outside the band (bench_coverage.py's
   table, rerun for this study) is at most the 95th percentile of that distribution, the real
   per-set spread is consistent with sampling spread alone; if it is above, the excess is a
   method problem and the sets outside are named. Either way the figures are reported.

Caveats fixed in advance: the sets are not independent (the three Gordon languages share a
design; the six cpu_dcpt fits share three sets of runs), so the product understates P(all within)
when the sets move together and the count's spread is understated; p from R replicates has a
binomial standard error of about sqrt(p (1 - p) / R), reported with it.

Usage: python benchmarks/bench_coverage_spread.py [--reps 40] [--bootstrap 300] [--only fam,...]
       python benchmarks/bench_coverage_spread.py --clusters   (the real sets' held-out units)
"""
