"""Where one request's instructions go: the difference, function by
function, of two callgrind runs of bench/profile.sh (N1 and N2 requests),
over N2 - N1.

    python3 bench/profile_diff.py A.out B.out N [--inclusive] [--top K]
"""
import re
import subprocess
import sys


def costs(path, inclusive):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                          "--inclusive=" + ("yes" if inclusive else "no"), path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    found = {}
    for line in out.decode(errors="replace").splitlines():
        m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S.*?)(?: \[(.*)\])?$", line)
        if not m or m.group(2) == "PROGRAM TOTALS":
            continue
        name = m.group(2).split(":")[-1]
        lib = (m.group(3) or "").rsplit("/", 1)[-1]
        key = "%s [%s]" % (name, lib) if lib else name
        found[key] = found.get(key, 0) + int(m.group(1).replace(",", ""))
    return found


def main(argv):
    a, b, n = argv[1], argv[2], float(argv[3])
    inclusive = "--inclusive" in argv
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 40
    ca, cb = costs(a, inclusive), costs(b, inclusive)
    diff = sorted(((cb.get(k, 0) - ca.get(k, 0)) / n, k) for k in set(ca) | set(cb))
    diff.reverse()
    for v, k in diff[:top]:
        print("%10.0f  %s" % (v, k))


if __name__ == "__main__":
    main(sys.argv)
