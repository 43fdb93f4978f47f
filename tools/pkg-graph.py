#!/usr/bin/env python3
"""Prints the package graph of a module's compiled classes, as jdeps finds it: each package with
the packages of the same prefix it depends on, then the groups of packages that depend on each
other in a cycle (none when the layers hold).

Usage: tools/pkg-graph.py controller/target/classes org.servicefarm.controller
The root package (where the wiring lives) is shown as "(root)"."""
import collections
import re
import subprocess
import sys


def edges(classes, prefix):
    out = subprocess.run(["jdeps", "-verbose:package", "-filter:none", classes],
                         capture_output=True, text=True, check=True).stdout
    graph = collections.defaultdict(set)
    for line in out.splitlines():
        m = re.match(r"^\s+(\S+)\s+->\s+(\S+)", line)
        if m and m.group(1) != m.group(2) and all(
                p == prefix or p.startswith(prefix + ".") for p in m.groups()):
            graph[m.group(1)].add(m.group(2))
    return graph


def cycles(graph):
    """Strongly connected groups of more than one package (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def main():
    classes, prefix = sys.argv[1], sys.argv[2]
    graph = edges(classes, prefix)
    short = lambda p: p[len(prefix) + 1:] if p != prefix else "(root)"
    for package in sorted(graph, key=short):
        print(f"{short(package)} -> {', '.join(sorted(map(short, graph[package])))}")
    groups = cycles(graph)
    for group in groups:
        print("cycle: " + ", ".join(map(short, group)))
    print(f"packages {len(set(graph) | {w for ws in graph.values() for w in ws})}, "
          f"cycles {len(groups)}")


if __name__ == "__main__":
    main()
