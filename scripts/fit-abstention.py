#!/usr/bin/env python3
"""Calibrates and reports the answer judge's abstention on `footnote eval --json` output.

  fit-abstention.py fit EVAL_JSON ANSWERABLE_JSONL [MAX_ANSWERABLE_ABSTENTION]
  fit-abstention.py curve EVAL_JSON ANSWERABLE_JSONL

A question of EVAL_JSON is answerable when its id is in ANSWERABLE_JSONL.
`fit` fits a logistic regression of answerability on (logit of the judge's best
sentence support, dense similarity, word coverage) and prints its weights, the
curve of the fitted score and the highest threshold whose abstention on
answerable questions stays within the budget (default 0.04). It is how the
combination was compared with the plain support threshold footnote uses
(docs/benchmarks.md, answer judge: tried and dropped). `curve` prints the curve of the confidence
footnote reported (with the judge, the best sentence's support): for each
threshold, the share of unanswerable and of answerable questions that would
abstain, counting, as footnote does, every question whose closest passage is
below the dense floor as abstained whatever the threshold. Standard library only.
"""
import json
import math
import sys

# footnote's default --min-similarity: below it footnote abstains whatever the judge says.
MIN_DENSE = 0.30


def logit(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def features(confidence):
    support = confidence.get("sentence_support")
    if support is None:
        return None
    return [logit(support), confidence["dense"], confidence["coverage"]]


def fit(xs, ys, steps=2000, rate=0.2, l2=1e-3):
    n, d = len(xs), len(xs[0])
    w, b = [0.0] * d, 0.0
    for _ in range(steps):
        gw, gb = [0.0] * d, 0.0
        for x, y in zip(xs, ys):
            z = sum(wi * xi for wi, xi in zip(w, x)) + b
            p = 1 / (1 + math.exp(-max(min(z, 30), -30)))
            for i in range(d):
                gw[i] += (p - y) * x[i]
            gb += p - y
        w = [wi - rate * (g / n + l2 * wi) for wi, g in zip(w, gw)]
        b -= rate * gb / n
    return w, b


def curve(scored, thresholds):
    """(threshold, abstained unanswerable, abstained answerable) rows; a score
    of None abstains always."""
    answerable = [s for s, y in scored if y]
    unanswerable = [s for s, y in scored if not y]
    below = lambda scores, t: sum(1 for s in scores if s is None or s < t) / max(len(scores), 1)
    return [(t, below(unanswerable, t), below(answerable, t)) for t in thresholds]


def print_curve(rows):
    print("threshold  abstained(unanswerable)  abstained(answerable)")
    for t, u, a in rows:
        print(f"  {t:.2f}       {u:.3f}                    {a:.3f}")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("fit", "curve"):
        sys.exit(__doc__)
    mode, results, answerable_file = sys.argv[1], sys.argv[2], sys.argv[3]
    results = json.load(open(results))["per_question"]
    answerable = {json.loads(line)["id"] for line in open(answerable_file) if line.strip()}
    coarse = [i / 20 for i in range(1, 20)]
    if mode == "curve":
        judged = lambda c: c.get("sentence_support") is not None and c["dense"] >= MIN_DENSE
        scored = [(r["confidence"]["score"] if judged(r["confidence"]) else None, r["id"] in answerable) for r in results]
        print_curve(curve(scored, coarse))
        return
    budget = float(sys.argv[4]) if len(sys.argv) > 4 else 0.04
    rows = [(features(r["confidence"]), r["id"] in answerable) for r in results]
    judged = [(x, y) for x, y in rows if x is not None]
    w, b = fit([x for x, _ in judged], [1.0 if y else 0.0 for _, y in judged])
    print(f"weights (sentence logit, dense, coverage): {[round(v, 3) for v in w]}, bias {b:.3f}")
    scored = [(None if x is None else 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, x)) + b))), y) for x, y in rows]
    print_curve(curve(scored, coarse))
    within = [row for row in curve(scored, [i / 100 for i in range(1, 100)]) if row[2] <= budget]
    if within:
        t, u, a = within[-1]
        print(f"highest threshold with answerable abstention <= {budget}: {t:.2f} (unanswerable {u:.3f}, answerable {a:.3f})")


main()
