"""Summaries of meetbench --json results for bench/run.sh and bench/scale.sh.

    summary.py line LABEL FILE     one line for one result
    summary.py report DIR          make bench: table, figures against nginx,
                                   then the cpu: and tail: lines
    summary.py scale DIR           make bench-scale: scale figures and targets
    summary.py cluster DIR         make bench-cluster: SQLite vs PostgreSQL nodes,
                                   cross-node kick-to-close
"""
import json
import os
import sys

DURABILITIES = ("full", "normal")
SCENARIOS = ("kickout", "join-churn", "participants", "mixed")
# The operation each scenario is about, for its rate and latency columns.
PRIMARY = {"static": "static", "kickout": "kickout", "join-churn": "join",
           "participants": "participants", "mixed": None, "streams": "kick-to-close"}


def load(directory, label):
    path = os.path.join(directory, label + ".json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def primary(result):
    return PRIMARY.get(result["scenario"])


def op(result, name):
    return result["ops"].get(name, {}) if name else {}


def errors_text(result):
    if not result["errors"]:
        return "0"
    kinds = ", ".join("%s x%d" % kv for kv in sorted(result["error_kinds"].items()))
    return "%d (%s)" % (result["errors"], kinds)


def line(label, result):
    if result["scenario"] == "streams":
        c = result["ops"].get("kick-to-close", {})
        return "bench: %s: %d streams, meetd RSS %.1f MiB (%.1f before); %d kicks, kick-to-close " \
               "p50 %.3f p99 %.3f ms; errors %s" % (
                   label, result["streams"], result["rss_streams_kb"] / 1024.0,
                   result["rss_before_kb"] / 1024.0, result["kicks"], c.get("p50_ms", 0),
                   c.get("p99_ms", 0), errors_text(result))
    p = op(result, primary(result))
    lat = " p50 %.3f p99 %.3f p99.9 %.3f ms" % (p["p50_ms"], p["p99_ms"], p["p999_ms"]) if p else ""
    ops = ", ".join("%s %.0f/s" % (k, v["rps"]) for k, v in result["ops"].items() if v["rps"])
    text = "bench: %s: %.0f req/s (%s)%s, errors %s, cpu client %.2f server %.2f" % (
        label, result["rps"], ops, lat, errors_text(result), result["client_cpu"],
        result["server_cpu"])
    if result.get("server_wait_ms_per_s", -1) >= 0:
        text += ", server waited for a CPU %.0f ms/s" % result["server_wait_ms_per_s"]
    if result.get("machine_idle", -1) >= 0:
        text += ", machine idle %.0f %%" % (100 * result["machine_idle"])
    return text


def ratio(a, b):
    return a / b if b else float("nan")


def half_labels(directory, d):
    """The runs at half the kickout rate: d-kickout-half, then -2, -3..."""
    labels = ["%s-kickout-half" % d]
    while os.path.exists(os.path.join(directory, "%s-kickout-half-%d.json" % (d, len(labels) + 1))):
        labels.append("%s-kickout-half-%d" % (d, len(labels) + 1))
    return labels


def verdict(ok):
    return "MET" if ok else "MISSED"


def report(directory):
    nginx = load(directory, "nginx-static")
    base = nginx["rps"] if nginx else 0.0
    print("%-26s %9s %10s %8s %8s %8s %7s %7s  %s" % (
        "run", "req/s", "op/s", "p50 ms", "p99 ms", "p99.9", "req/ng", "op/ng", "errors"))
    rows = [("nginx-static", nginx)] if nginx else []
    mhd = load(directory, "mhd-static")
    if mhd:
        rows.append(("mhd-static", mhd))
    rows.append(("meetd-healthz", load(directory, "meetd-healthz")))
    for d in DURABILITIES:
        labels = ["%s-%s" % (d, s) for s in SCENARIOS]
        for label in half_labels(directory, d):
            if load(directory, "nginx-at-" + label):
                labels.append("nginx-at-" + label)
            labels.append(label)
        found = [(label, load(directory, label)) for label in labels]
        if any(r for _, r in found):     # a durability not asked for is left out
            rows.extend(found)
    end = load(directory, "nginx-static-end")
    if end:
        rows.append(("nginx-static-end", end))
    for label, r in rows:
        if r is None:
            print("%-26s (missing)" % label)
            continue
        name = primary(r)
        p = op(r, name)
        if name is None:   # mixed: every request counts
            p = {"rps": r["rps"], "p50_ms": float("nan"), "p99_ms": float("nan"),
                 "p999_ms": float("nan")}
        print("%-26s %9.0f %10.0f %8.3f %8.3f %8.3f %7.3f %7.3f  %s" % (
            label, r["rps"], p["rps"], p["p50_ms"], p["p99_ms"], p["p999_ms"],
            ratio(r["rps"], base), ratio(p["rps"], base), errors_text(r)))
        if name is None or "-half" in label or r["scenario"] == "kickout":
            detail = ", ".join("%s %.0f/s p50 %.3f p99 %.3f" % (k, v["rps"], v["p50_ms"], v["p99_ms"])
                               for k, v in sorted(r["ops"].items()))
            print("%-26s   %s" % ("", detail))
    print()
    if not nginx:
        print("figures: no nginx figure, no ratios to it")
    else:
        figures(directory, base, end)
    # Last, and whatever is missing: the lines that runs compare by machine.
    print()
    for text in cpu_lines(directory) + tail_lines(directory):
        print(text)


def figures(directory, base, end):
    """Throughput and tail latency against nginx, as figures."""
    full = load(directory, "full-kickout")
    if full:
        # Figures, not targets (issue 17 retired the throughput target: on a
        # 2-CPU machine shared with the client it is bound by the client).
        k = full["ops"].get("kickout", {}).get("rps", 0.0)
        print("figure: kickout throughput (full): %.0f kickouts/s vs nginx %.0f req/s = %.3f x "
              "(%.3f x counting the re-joins too: %.0f req/s)" % (
                  k, base, ratio(k, base), ratio(full["rps"], base), full["rps"]))
        mhd = load(directory, "mhd-static")
        if mhd and k > 0:
            # The client shares the machine: its own CPU a request, measured
            # on this run's kickouts, plus a server that costs no more than
            # libmicrohttpd answering {} (mhd-static's), bound any server.
            client_us = 1e6 * full["client_cpu"] / full["rps"] if full["client_cpu"] > 0 else 0
            server_us = us_a_request(mhd)
            cores = os.cpu_count() or 1
            if client_us > 0 and server_us > 0:
                best = cores * 1e6 / (client_us + server_us) * k / full["rps"]
                print("        bound: the client's CPU a kickout request (%.1f us) plus a server as "
                      "cheap as libmicrohttpd alone (%.1f us) on %d CPUs: at most %.0f kickouts/s "
                      "= %.3f x nginx; meetd reached %.0f %% of it" % (
                          client_us, server_us, cores, best, ratio(best, base),
                          100 * ratio(k, best)))
        if end:
            print("        nginx at the end of the run: %.0f req/s (%+.0f %%); against it "
                  "%.3f x" % (end["rps"], 100 * (ratio(end["rps"], base) - 1),
                               ratio(k, end["rps"])))
    for d in DURABILITIES:
        runs = [r for r in (load(directory, label) for label in half_labels(directory, d))
                if r and "kickout" in r["ops"]]
        if not runs:
            continue
        p99s = [r["ops"]["kickout"]["p99_ms"] for r in runs]
        print("figure: p99 at half throughput (%s, %.0f kickouts/s): kickout p99 %s ms" % (
            d, runs[0]["rate"], " / ".join("%.3f" % p for p in p99s)))
        floors = [load(directory, "nginx-at-" + label) for label in half_labels(directory, d)]
        floors = [f["ops"]["static"]["p99_ms"] for f in floors if f and "static" in f["ops"]]
        if floors:
            print("        nginx at the same request rate just before each run: p99 %s ms "
                  "(the machine's floor then)" % " / ".join("%.3f" % p for p in floors))


def us_a_request(result):
    """Server CPU a request in microseconds: the server's CPU seconds a
    second over its requests a second (every request of the run, so a
    kickout step's kick and re-join both count); NaN when not measured."""
    if not result or result.get("server_cpu", -1) <= 0 or not result.get("rps"):
        return float("nan")
    return 1e6 * result["server_cpu"] / result["rps"]


# The runs whose CPU a request is set against libmicrohttpd alone (issue 17),
# by the name the `cpu:` line gives them.
CPU_RUNS = [("healthz", "meetd-healthz")] + [
    ("%s-%s" % (d, s), "%s-%s" % (d, s))
    for d in DURABILITIES for s in ("kickout", "join-churn", "participants")]


def cpu_lines(directory):
    """The closing `cpu:` lines, one a scenario, always all of them (a run
    missing prints nan) so that runs compare line by line."""
    mhd = us_a_request(load(directory, "mhd-static"))
    return ["cpu: %s %.2f x libmicrohttpd alone (%.1f us vs %.1f us a request)" % (
        name, ratio(us_a_request(load(directory, label)), mhd), us_a_request(load(directory, label)),
        mhd) for name, label in CPU_RUNS]


def tail_lines(directory):
    """The closing `tail:` lines: per durability, the median over the runs
    at half throughput of meetd's kickout p99 minus nginx's p99 at the same
    request rate measured just before that run (each run paired with its
    own nginx run, as the machine's floor moves within minutes)."""
    out = []
    for d in DURABILITIES:
        diffs = []
        for label in half_labels(directory, d):
            r, n = load(directory, label), load(directory, "nginx-at-" + label)
            if r and n and "kickout" in r["ops"] and "static" in n["ops"]:
                diffs.append(r["ops"]["kickout"]["p99_ms"] - n["ops"]["static"]["p99_ms"])
        diffs.sort()
        median = diffs[len(diffs) // 2] if len(diffs) % 2 else (
            (diffs[len(diffs) // 2 - 1] + diffs[len(diffs) // 2]) / 2 if diffs else float("nan"))
        out.append("tail: %s %.2f ms over nginx (median of %d)" % (d, median, len(diffs)))
    return out


def scale(directory):
    sizes = (10, 1000, 100000)
    print("%-30s %10s %9s %9s %9s %9s  %s" % ("kickout latency", "kicks/s", "p50 ms", "p99 ms",
                                               "p99.9", "setup s", "errors"))
    for d in DURABILITIES:
        found = {n: load(directory, "scale-kickout-%s-%d" % (d, n)) for n in sizes}
        if not any(found.values()):
            continue
        for n in sizes:
            r = found[n]
            label = "%s, meeting of %d" % (d, n)
            if r is None:
                print("%-30s (missing)" % label)
                continue
            k = r["ops"].get("kickout", {})
            print("%-30s %10.0f %9.3f %9.3f %9.3f %9.1f  %s" % (
                label, k.get("rps", 0), k.get("p50_ms", 0), k.get("p99_ms", 0),
                k.get("p999_ms", 0), r["setup_s"], errors_text(r)))
        small, big = found[10], found[100000]
        if small and big and "kickout" in small["ops"] and "kickout" in big["ops"]:
            a, b = small["ops"]["kickout"], big["ops"]["kickout"]
            print("target (%s): kickout latency at 100,000 <= 1.3 x at 10: p50 %.3f / %.3f = %.2f x "
                  "-> %s; p99 %.3f / %.3f = %.2f x -> %s" % (
                      d, b["p50_ms"], a["p50_ms"], ratio(b["p50_ms"], a["p50_ms"]),
                      verdict(b["p50_ms"] <= 1.3 * a["p50_ms"]),
                      b["p99_ms"], a["p99_ms"], ratio(b["p99_ms"], a["p99_ms"]),
                      verdict(b["p99_ms"] <= 1.3 * a["p99_ms"])))
    for d in DURABILITIES:
        st = load(directory, "scale-streams-%s" % d)
        if st is not None:
            streams(d, st)


def streams(d, st):
    mb = st["rss_streams_kb"] / 1024.0
    per = (st["rss_streams_kb"] - st["rss_before_kb"]) / max(st["streams"], 1)
    print("streams (%s): %d open; meetd RSS %.1f MiB before, %.1f MiB with them open "
          "(%.1f KiB each)" % (d, st["streams"], st["rss_before_kb"] / 1024.0, mb, per))
    print("target: 10,000 streams in <= 200 MB RSS: %.1f MiB (%.1f MB) -> %s" % (
        mb, st["rss_streams_kb"] * 1024 / 1e6, verdict(st["rss_streams_kb"] * 1024 <= 200e6
                                                      and st["streams"] >= 10000)))
    for name in ("kickout", "kick-to-event", "kick-to-close"):
        o = st["ops"].get(name)
        if o:
            print("  %-14s %6d  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms" % (
                name, o["count"], o["p50_ms"], o["p99_ms"], o["p999_ms"], o["max_ms"]))
    c = st["ops"].get("kick-to-close")
    if c:
        print("target: kick-to-close p99 <= 10 ms (%s): %.3f ms -> %s (%d kicks at %.0f/s, "
              "errors %s)" % (d, c["p99_ms"], verdict(c["p99_ms"] <= 10.0), st["kicks"],
                              st["rate"], errors_text(st)))


def cluster(directory):
    """make bench-cluster: kickout steps a second (a kick and its re-join)
    and the kick's p99, per setup, and the issue's target for one node."""
    def steps(r):
        return op(r, "kickout").get("rps", 0.0)

    sqlite = load(directory, "sqlite-kickout")
    one = load(directory, "pg-kickout")
    two = [load(directory, "pg2-kickout-node%d" % i) for i in (1, 2)]
    rows = []
    if sqlite:
        rows.append(("1 node, SQLite", steps(sqlite), op(sqlite, "kickout").get("p99_ms", 0),
                     errors_text(sqlite)))
    if one:
        rows.append(("1 node, PostgreSQL", steps(one), op(one, "kickout").get("p99_ms", 0),
                     errors_text(one)))
    if all(two):
        rows.append(("2 nodes, PostgreSQL", sum(steps(r) for r in two),
                     max(op(r, "kickout").get("p99_ms", 0) for r in two),
                     " + ".join(errors_text(r) for r in two)))
    print("| setup | kickout steps/s | kick p99 ms | errors |")
    print("|---|---|---|---|")
    for name, rate, p99, errs in rows:
        print("| %s | %.0f | %.2f | %s |" % (name, rate, p99, errs))
    if sqlite and one:
        r = ratio(steps(one), steps(sqlite))
        print("target: a node on PostgreSQL >= 0.5 x the same node on SQLite (full "
              "durability): %.2f x -> %s" % (r, verdict(r >= 0.5)))
    for name, res in (("SQLite", sqlite), ("PostgreSQL", one)):
        if res:
            print(step_cpu(name, res, steps(res)))
    cross_node(load(directory, "pg2-kick-to-close"))


def step_cpu(name, result, steps_per_s, ncpu=None):
    """Where a kickout step's CPU goes: meetd's, the client's, and the rest
    of the machine's busy time (on a machine running nothing else: the
    database server's; SQLite has none). The machine's CPUs over the sum is
    the most steps a second it could do: what bounds the setup once idle
    is near 0."""
    ncpu = ncpu or os.cpu_count() or 1
    idle = result.get("machine_idle", -1)
    if steps_per_s <= 0 or idle < 0:
        return "cpu a step, %s: not measured" % name
    busy = (1.0 - idle) * ncpu
    meetd, client = result["server_cpu"], result["client_cpu"]
    rest = max(busy - meetd - client, 0.0)
    us = lambda x: 1e6 * x / steps_per_s
    total = us(meetd) + us(client) + us(rest)
    return ("cpu a step, %s: meetd %.0f us, client %.0f us, rest of the machine %.0f us "
            "(%d CPUs, idle %.0f %%): at most %.0f steps/s on this machine" % (
                name, us(meetd), us(client), us(rest), ncpu, 100 * idle,
                1e6 * ncpu / total if total else float("nan")))


def cross_node(st):
    """Streams held on node 2, their devices kicked through node 1: from
    the kick's send to the end of its stream on the other node."""
    if st is None:
        print("cross-node kick-to-close: not measured (no pg2-kick-to-close result)")
        return
    print("cross-node: %d streams on %s, %d kicks sent to %s at %.0f/s" % (
        st["streams"], st.get("stream_target", "?"), st["kicks"], st["target"], st["rate"]))
    for name in ("kickout", "kick-to-event", "kick-to-close"):
        o = st["ops"].get(name)
        if o:
            print("  %-14s %6d  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms" % (
                name, o["count"], o["p50_ms"], o["p99_ms"], o["p999_ms"], o["max_ms"]))
    c, k = st["ops"].get("kick-to-close", {}), st["ops"].get("kickout", {})
    if c and k:
        # Both count from the kick's send: what the stream's node adds after
        # the kick was answered, at the median (a difference of p50s).
        print("  kick-to-close p50 - kickout p50: %+.3f ms (node 2 hearing of the commit and "
              "ending the stream)" % (c["p50_ms"] - k["p50_ms"]))
    # Every kick must have closed its stream for the p99 to be about them all.
    whole = c.get("count", 0) == st["kicks"] > 0 and not st["errors"]
    print("target: cross-node kick-to-close p99 <= 10 ms: %.3f ms -> %s (%d of %d streams "
          "closed, errors %s)" % (c.get("p99_ms", 0), verdict(whole and c["p99_ms"] <= 10.0),
                                  c.get("count", 0), st["kicks"], errors_text(st)))


def main(argv):
    if len(argv) == 4 and argv[1] == "line":
        with open(argv[3]) as f:
            print(line(argv[2], json.load(f)))
    elif len(argv) == 3 and argv[1] == "report":
        report(argv[2])
    elif len(argv) == 3 and argv[1] == "scale":
        scale(argv[2])
    elif len(argv) == 3 and argv[1] == "cluster":
        cluster(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
