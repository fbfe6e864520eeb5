#!/usr/bin/env python3
"""The short table check.sh prints last: scmoe_gpu_bench's JSON next to the eager reference's, the goals of
issue 6 and its anchors. Reads whatever exists (a benchmark stopped by a timeout leaves the rows it
measured; a missing eager file leaves its columns empty). Standard library only."""
import argparse
import json
import os
import sys

GOAL_SPEEDUP = {"60": 1.85, "15": 1.19}       # issue 6: within 5% of the physical bound
ANCHOR_SPEEDUP = {"60": 1.70, "15": 1.15}     # eager scmoe pos 2 best K on the H200
ANCHOR_BOUND = {"60": 1.94, "15": 1.20}
ANCHOR_TOP2_MS = 5.55


def load(path):
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"summary: cannot read {path}: {e}", file=sys.stderr)
        return None


def fmt(v, spec=".3f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def regime_key(r):
    return str(round(r.get("comm_share_target", 0) * 100))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--eager")
    ap.add_argument("--out")
    args = ap.parse_args()
    bench, eager = load(args.bench), load(args.eager)
    lines = []
    say = lines.append
    if bench is None:
        say(f"no benchmark results ({args.bench})")
    elif "skipped" in bench:
        say(f"benchmark skipped: {bench['skipped']}")
    else:
        eager_by = {r["regime"]: r for r in (eager or {}).get("regimes", [])}
        say(f"## GPU check summary ({bench.get('date_utc', '?')}, torch {bench.get('torch_version', '?')}"
            f"{', eager on ' + eager['device'] if eager else ''}{', QUICK' if bench.get('quick') else ''})")
        if "error" in bench:
            say(f"**benchmark stopped early: {bench['error']}**")
        say("")
        regimes = bench.get("regimes", [])
        keys = [regime_key(r) for r in regimes]
        cols = []
        for r in regimes:
            key = regime_key(r)
            rows = r.get("rows", [])
            top2 = next((x for x in rows if x["arch"] == "top2"), None)
            e = eager_by.get(key)
            best = r.get("best_scmoe")
            adaptive = r.get("adaptive", [])
            ad2 = next((a for a in adaptive if a["position"] == 2), None)
            best_ad = max(adaptive, key=lambda a: a["adaptive_speedup_x"], default=None)
            ours_top2 = top2["median_ms"] if top2 else None
            eager_top2 = e["top2_ms"] if e else None
            counts = "-" if ours_top2 is None or eager_top2 is None else (
                "yes" if ours_top2 <= eager_top2 else f"NO (+{100 * (ours_top2 / eager_top2 - 1):.1f}%)")
            worst = max((abs(x["prediction_error_pct"]) for x in rows), default=None)
            cols.append([
                fmt(r.get("top2_comm_share_measured"), ".0%"),
                fmt(ours_top2), fmt(eager_top2), counts,
                f"{best['speedup_x']:.3f}x (pos{best['position']} K={best['k']})" if best else "-",
                f"{ad2['adaptive_speedup_x']:.3f}x (K*={ad2['adaptive_k']})" if ad2 else "-",
                f"{best_ad['adaptive_speedup_x']:.3f}x (pos{best_ad['position']})" if best_ad else "-",
                f"{e['best_speedup_x']:.3f}x (K={e['best_k']})" if e else "-",
                f"{fmt(best and best['bound_speedup_x'], '.3f', 'x')} / {fmt(e and e['bound_speedup_x'], '.3f', 'x')}",
                fmt(best and 100 * best["fraction_of_bound"], ".1f", "%"),
                ", ".join(f"pos{a['position']} {'yes' if a['matches'] else 'NO'}" for a in adaptive) or "-",
                fmt(best and best["overlap_pct"], ".1f", "%"),
                fmt(best and best["exposed_ms"]),
                f"{fmt(best and best['prediction_error_pct'], '+.1f', '%')}; {fmt(worst, '.1f', '%')}",
            ])

        def per_regime(table):
            return " / ".join(fmt(table.get(k), ".2f", "x") for k in keys)

        names = [
            ("top2 comm share of MoE time (measured)", "calibrated to " + " / ".join(f"{k}%" for k in keys)),
            ("our top2 pair ms", f"eager anchor {ANCHOR_TOP2_MS} ms"),
            ("eager top2 pair ms (this run)", ""),
            ("our top2 <= eager top2 (speedups count)", "required"),
            ("scmoe best fixed K: speedup vs top2", "goal " + per_regime(GOAL_SPEEDUP)),
            ("scmoe pos2 adaptive: speedup", "goal " + per_regime(GOAL_SPEEDUP)),
            ("best adaptive of pos 1/2/3: speedup", ""),
            ("eager scmoe pos2 best K (this run)", "anchor " + per_regime(ANCHOR_SPEEDUP)),
            ("physical bound: ours / eager", "anchor " + per_regime(ANCHOR_BOUND)),
            ("best scmoe: fraction of its bound", "goal >= 95%"),
            ("adaptive K as fast as best fixed K", "goal yes"),
            ("overlap (best scmoe)", "goal >= 95% when comm fits"),
            ("exposed comm ms (best scmoe)", ""),
            ("prediction error: best scmoe; worst row", "goal within 5%"),
        ]
        say("| metric | " + " | ".join(f"{k}% regime" for k in keys) + " | goal / anchor |")
        say("|---|" + "---|" * len(keys) + "---|")
        for i, (name, target) in enumerate(names):
            say(f"| {name} | " + " | ".join(c[i] for c in cols) + f" | {target} |")
        say("")
        for r in regimes:
            if r.get("not_run"):
                say(f"{regime_key(r)}% regime, not run (time budget): {', '.join(r['not_run'])}")
        gg = bench.get("grouped_gemm")
        if gg and "skipped" in gg:
            say(f"expert GEMMs vs dense at::mm: not measured ({gg['skipped']})")
        elif gg:
            parts = []
            for g in gg.get("gemms", []):
                grouped = (f"grouped {g['grouped_tflops']:.0f} TFLOP/s = {100 * g['grouped_fraction']:.0f}%"
                           if "grouped_tflops" in g else f"grouped n/a ({g.get('grouped_error', '?')})")
                parts.append(f"{g['name']}: dense {g['dense_tflops']:.0f} TFLOP/s, {grouped}, "
                             f"per-expert loop {100 * g['loop_fraction']:.0f}%")
            say("expert GEMMs vs dense at::mm (goal >= 70%): " + "; ".join(parts))
        cu = bench.get("cupti")
        if cu:
            say("CUPTI capture overhead (goal <= 3%): " + (
                f"{cu['overhead_pct']:+.2f}% ({cu['off_ms']:.3f} ms off, {cu['on_ms']:.3f} ms on)"
                if cu.get("available") else f"not measured: {cu.get('reason', '?')}"))
        if eager is None:
            say(f"eager reference: no results ({args.eager})")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
