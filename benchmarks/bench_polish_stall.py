"""The L-BFGS-B polish's crawl along a collapsing loss floor: old vs new polish, in one process.

Decision rule (written before the candidates were compared; one exploratory run on the slow case,
d2-32 constant + cosine, had shown the crawl: three polishes of ~1,100 evaluations, L0 ~1e-8):

- candidates: (a) a stall criterion (stop when the objective's relative gain over the last k
  iterations is below a tolerance), (b) the floor polished in value space with its bound 0 (a
  collapsed floor becomes an active bound), (c) the floor pinned at 0 and the rest polished;
- a candidate is admissible only if on every fit tried (the slow cases, the published-fit tests,
  an Epoch chinchilla fit, a power_law fit, an lr_annealing fit) its objective is not worse than
  the old polish's by more than 1e-9 relative, and the published-fit tests pass;
- among admissible candidates: the fewest L-BFGS-B evaluations on the slow cases; on a tie within
  2x, the one that leaves ordinary fits' polish closest to unchanged and needs no tuned threshold.
"""
