#!/usr/bin/env python3
"""The project's module graph, file by file: which file uses which (`use crate::…`,
`crate::…` paths, `super::…`), and every import cycle. Exit status 1 when there is a cycle.

    python3 scripts/module-graph.py            # cycles and the largest files
    python3 scripts/module-graph.py --edges    # every edge, for reading or diffing
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = {"model": "model/src", "audio": "audio/src", "trainer": "trainer/src", "web": "web/src", "python": "python/src"}


def modules(src: Path):
    """Module path (tuple) -> file, for every .rs file under src (bins excluded)."""
    found = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src)
        if rel.parts[0] == "bin":
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "mod":
            parts.pop()
        if parts in (["lib"], ["main"]):
            parts = []
        found[tuple(parts)] = f
    return found


def code(text: str) -> str:
    """The file without comments and without its `#[cfg(test)]` module."""
    text = re.sub(r"//[^\n]*", "", text)
    cut = text.find("#[cfg(test)]\nmod tests")
    return text if cut < 0 else text[:cut]


def expand(tree: str):
    """The paths of a use tree: `a::{b,c::{d,e}}` -> a::b, a::c::d, a::c::e."""
    brace = tree.find("{")
    if brace < 0:
        return [tree.split(" as ")[0]]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    parts.append(current)
    return [path for part in parts if part for path in expand(prefix + part)]


def edges(src: Path):
    mods = modules(src)
    out = set()
    for path, f in mods.items():
        text = code(f.read_text())
        targets = []
        # `use crate::a::{b, c::{d, e}}`: every path the tree names.
        for m in re.finditer(r"\buse\s+((?:crate|super)[^;]*);", text):
            for used in expand(re.sub(r"\s+", "", m.group(1))):
                text += f" {used} "
        for m in re.finditer(r"\bcrate((?:::\w+)+)", text):
            targets.append(tuple(m.group(1).strip(":").split("::")))
        for m in re.finditer(r"\b((?:super::)+)(\w+(?:::\w+)*)", text):
            up = m.group(1).count("super::")
            base = path[: len(path) - up]
            targets.append(base + tuple(m.group(2).split("::")))
        # `use crate::a::{b, c::d}` groups: the prefix names the module.
        for t in targets:
            for n in range(len(t), -1, -1):
                if t[:n] in mods and t[:n] != path and t[:n] != ():
                    out.add((path, t[:n]))
                    break
    return mods, out


def cycles(nodes, graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return result


def main():
    show_edges = "--edges" in sys.argv
    bad = 0
    for crate, src in CRATES.items():
        mods, es = edges(ROOT / src)
        graph = {}
        for a, b in es:
            graph.setdefault(a, set()).add(b)
        name = lambda p: "::".join(p) or "lib"
        if show_edges:
            for a, b in sorted(es):
                print(f"{crate}: {name(a)} -> {name(b)}")
        found = cycles(list(mods), graph)
        for comp in found:
            bad += 1
            print(f"{crate}: import cycle: {' <-> '.join(sorted(name(c) for c in comp))}")
        print(f"{crate}: {len(mods)} files, {len(es)} edges, {len(found)} cycles")
    sizes = []
    for src in CRATES.values():
        for f in (ROOT / src).rglob("*.rs"):
            sizes.append((len(code(f.read_text()).splitlines()), f.relative_to(ROOT)))
    print("largest files (lines outside their tests module):")
    for n, f in sorted(sizes, reverse=True)[:5]:
        print(f"  {n:4} {f}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
