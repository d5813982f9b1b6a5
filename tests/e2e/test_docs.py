"""The documentation stands on its own: nothing in the repository cites a
document that is not in it (docs/api.md is the reference of the wire format),
and every relative link in README.md and docs/*.md leads to a file that exists,
and to a heading of it when the link names one.

Reads the source tree only; needs no binary.
"""
import os
import re
import subprocess
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# The name of the outside document once cited, spelled so that this file does
# not cite it itself.
OUTSIDE = re.compile(r"\b" + "CON" "TRACT" r"\b")
# Test data copied from elsewhere keeps its own words.
EXEMPT = ("tests/vectors/",)
# What is searched when the tree is not a git checkout (a release tarball).
TOP = ("README.md", "CMakeLists.txt", "Makefile", "docs", "src", "include", "bench", "fuzz",
       "scripts", "tests")


def tracked_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True,
                             timeout=60, check=True).stdout
        files = [f for f in out.decode("utf-8").split("\0") if f]
        if files:
            return files
    except (OSError, subprocess.SubprocessError):
        pass
    files = []
    for top in TOP:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            files.append(top)
        for d, subdirs, names in os.walk(path):
            subdirs[:] = [s for s in subdirs if not s.startswith((".", "build"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    return files


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    text = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text):
    seen = {}
    out = set()
    for line in without_code(text):
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m is None:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else "%s-%d" % (base, n))
    return out


def without_code(text):
    """The lines of a Markdown text outside fenced and indented code blocks."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    ") or line.startswith("\t"):
            continue
        yield line


LINK = re.compile(r"\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def links(text):
    for line in without_code(text):
        line = re.sub(r"`[^`]*`", "", line)      # inline code is not a link
        for m in LINK.finditer(line):
            yield m.group(1)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


class NoOutsideCitationTest(unittest.TestCase):
    def test_no_file_cites_a_document_outside_the_repository(self):
        files = tracked_files()
        self.assertIn("docs/api.md", files)
        bad = []
        for rel in files:
            if rel.startswith(EXEMPT):
                continue
            try:
                text = read(rel)
            except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
                continue            # binary, or a submodule
            for n, line in enumerate(text.splitlines(), 1):
                if OUTSIDE.search(line):
                    bad.append("%s:%d: %s" % (rel, n, line.strip()[:120]))
        self.assertEqual(bad, [], "cite docs/api.md (the repository's reference) instead:\n"
                         + "\n".join(bad))


class LinksTest(unittest.TestCase):
    def test_relative_links_resolve(self):
        docs = ["README.md"] + sorted("docs/" + n for n in os.listdir(os.path.join(ROOT, "docs"))
                                      if n.endswith(".md"))
        checked = 0
        bad = []
        for rel in docs:
            for target in links(read(rel)):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):
                    continue        # http:, https:, mailto:
                path, _, frag = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(rel), path)) if path else rel
                checked += 1
                if not os.path.exists(os.path.join(ROOT, dest)):
                    bad.append("%s: %s: no file %s" % (rel, target, dest))
                elif frag and dest.endswith(".md") and frag not in anchors(read(dest)):
                    bad.append("%s: %s: %s has no heading #%s" % (rel, target, dest, frag))
        self.assertGreater(checked, 20, "the link pattern found almost nothing")
        self.assertEqual(bad, [], "\n".join(bad))

    def test_the_checker_sees_a_broken_link(self):
        # The control: the checks above can fail.
        self.assertEqual(list(links("see [x](nowhere.md#a) and `[y](z.md)`\n    [c](code.md)")),
                         ["nowhere.md#a"])
        self.assertEqual(anchors("## cohost add / cohost remove\n## Output and exit status\n"
                                 "## Output and exit status"),
                         {"cohost-add--cohost-remove", "output-and-exit-status",
                          "output-and-exit-status-1"})
        self.assertTrue(OUTSIDE.search("see " + "CON" "TRACT" ".md §1"))


if __name__ == "__main__":
    unittest.main()
