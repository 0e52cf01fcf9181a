#!/usr/bin/env python3
"""scripts/arch.py [--check] - the module picture of docs/ARCHITECTURE.md, drawn from the code.

A module is a folder src/NAME/. A public header include/bmx/H.h belongs to the module whose
sources define most of the functions it declares (a header that declares none belongs to the
folder of the same name, if there is one). Module A depends on module B when a source or
private header of A includes a header of B, directly or through another public header.

Prints the dependency graph as a Mermaid block (GitHub draws it as a picture; an arrow that
another path implies is left out of it) and a table of layers with every dependency. With --check, regenerates the block and compares it with the one between the
markers in docs/ARCHITECTURE.md, and checks the rules the design states:
  - no cycles between modules;
  - no source includes another module's private header (../other/x_int.h);
  - the mixing library (libbmx_mix: modules mix, rng, core) depends on nothing else;
  - src/cli depends on modules, nothing depends on src/cli.
Exit 1 with the difference or the broken rule named."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC, INC = os.path.join(ROOT, "src"), os.path.join(ROOT, "include", "bmx")
DOC = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
BEGIN, END = "<!-- arch:begin (scripts/arch.py writes this block) -->", "<!-- arch:end -->"
MIX_LIB = {"mix", "rng", "core"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DECL = re.compile(r"\b(bmx_\w+)\s*\(")
DEFN = re.compile(r"^[A-Za-z_][\w \*]*?\b(bmx_\w+)\s*\([^;{]*\)\s*\{", re.M | re.S)


def read(p):
    with open(p, encoding="utf-8", errors="replace") as f:
        return f.read()


def strip_comments(s):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", s, flags=re.S)


def main():
    mods = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
    files = {m: sorted(os.path.join(SRC, m, f) for f in os.listdir(os.path.join(SRC, m))
                       if f.endswith((".c", ".h", ".cu", ".cuh", ".inc"))) for m in mods}
    headers = sorted(f[:-2] for f in os.listdir(INC) if f.endswith(".h"))
    defined = {}
    for m in mods:
        for p in files[m]:
            for name in DEFN.findall(strip_comments(read(p))):
                defined.setdefault(name, set()).add(m)
    owner = {}
    for h in headers:
        votes = {}
        for name in set(DECL.findall(strip_comments(read(os.path.join(INC, h + ".h"))))):
            for m in defined.get(name, ()):
                votes[m] = votes.get(m, 0) + 1
        if votes:
            owner[h] = max(sorted(votes), key=lambda m: votes[m])
        elif h in mods:
            owner[h] = h
        else:
            owner[h] = None  # types only: counts for nobody
    # header -> headers it includes (transitively)
    hinc = {h: [x[4:-2] for x in INCLUDE.findall(read(os.path.join(INC, h + ".h")))
                if x.startswith("bmx/")] for h in headers}

    def closure(hs):
        seen, todo = set(), list(hs)
        while todo:
            h = todo.pop()
            if h in seen or h not in hinc:
                continue
            seen.add(h)
            todo.extend(hinc[h])
        return seen

    deps, problems = {m: set() for m in mods}, []
    for m in mods:
        direct = set()
        for p in files[m]:
            for x in INCLUDE.findall(read(p)):
                if x.startswith("bmx/"):
                    direct.add(x[4:-2])
                elif x.startswith("../"):
                    other = x.split("/")[1]
                    problems.append(f"{os.path.relpath(p, ROOT)} includes {x}: another "
                                    f"module's private header (make what it needs public)")
                    deps[m].add(other)
        for h in closure(direct):
            o = owner.get(h)
            if o and o != m:
                deps[m].add(o)
    # layers: a module's layer is one more than its deepest dependency
    layer, cycle = {}, []

    def depth(m, stack):
        if m in layer:
            return layer[m]
        if m in stack:
            cycle.append(" -> ".join(stack[stack.index(m):] + [m]))
            return 0
        d = 1 + max((depth(x, stack + [m]) for x in sorted(deps[m])), default=-1)
        layer[m] = d
        return d

    for m in mods:
        depth(m, [])
    problems += [f"cycle: {c}" for c in cycle]
    for m in sorted(MIX_LIB & set(mods)):
        bad = deps[m] - MIX_LIB
        if bad:
            problems.append(f"src/{m} (part of libbmx_mix) depends on {', '.join(sorted(bad))}")
    for m in mods:
        if m != "cli" and "cli" in deps[m]:
            problems.append(f"src/{m} depends on src/cli")

    def reach(m, seen=None):
        seen = set() if seen is None else seen
        for x in deps[m]:
            if x not in seen:
                seen.add(x)
                reach(x, seen)
        return seen

    own = {m: sorted(h for h in headers if owner[h] == m) for m in mods}
    lines = [BEGIN, "", "```mermaid", "graph BT"]
    for m in sorted(mods, key=lambda m: (layer[m], m)):
        lines.append(f"  {m}[\"{m}\"]")
    for m in sorted(mods):  # the picture draws the transitive reduction; the table has all
        for d in sorted(deps[m]):
            if not any(d in reach(x) for x in deps[m] if x != d):
                lines.append(f"  {m} --> {d}")
    lines += ["```", "", "| layer | module | public headers | depends on |", "|---|---|---|---|"]
    for m in sorted(mods, key=lambda m: (layer[m], m)):
        hs = ", ".join(f"`bmx/{h}.h`" for h in own[m]) or "-"
        ds = ", ".join(sorted(deps[m])) or "-"
        lines.append(f"| {layer[m]} | `src/{m}` | {hs} | {ds} |")
    free = [h for h in headers if owner[h] is None]
    if free:
        lines += ["", "Headers of types only: " + ", ".join(f"`bmx/{h}.h`" for h in free) + "."]
    lines += ["", END]
    block = "\n".join(lines)
    if "--check" not in sys.argv:
        print(block)
        for p in problems:
            print("arch: " + p, file=sys.stderr)
        return 1 if problems else 0
    doc = read(DOC) if os.path.exists(DOC) else ""
    i, j = doc.find(BEGIN), doc.find(END)
    have = doc[i:j + len(END)] if i >= 0 and j > i else None
    if have != block:
        problems.append(f"{os.path.relpath(DOC, ROOT)}: the module picture is out of date; "
                        f"write it again with: python3 scripts/arch.py (and paste the block)")
        if have is not None:
            import difflib
            sys.stderr.writelines(difflib.unified_diff(have.splitlines(True), block.splitlines(True),
                                                       "ARCHITECTURE.md", "the code"))
            sys.stderr.write("\n")
    for p in problems:
        print("arch: " + p, file=sys.stderr)
    if not problems:
        print(f"arch: {len(mods)} modules, {sum(len(d) for d in deps.values())} dependencies, "
              f"no cycle; docs/ARCHITECTURE.md is current")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
