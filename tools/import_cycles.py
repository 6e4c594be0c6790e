"""Find import cycles among automix/daw_bridge modules (module-level and function-level imports).

    python tools/import_cycles.py [ROOT]      # prints each cycle, then "N cycles"
"""
import ast
import itertools
import pathlib
import sys


def import_graph(root: pathlib.Path) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over automix and daw_bridge (TYPE_CHECKING blocks left out)."""
    mods = {}
    for p in list(root.glob("automix/**/*.py")) + list(root.glob("daw_bridge/**/*.py")):
        rel = p.relative_to(root).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts)] = p
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        skip = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                skip.update(id(x) for x in ast.walk(node))
        for n in ast.walk(tree):
            if id(n) in skip:
                continue
            targets = []
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                targets = [n.module] + [f"{n.module}.{a.name}" for a in n.names]
            elif isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            graph[m].update(t for t in targets if t in mods and t != m)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    sys.setrecursionlimit(10000)
    index, low, stack, on, found, counter = {}, {}, [], set(), [], itertools.count()

    def strong(v: str) -> None:
        index[v] = low[v] = next(counter)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return found


if __name__ == "__main__":
    found = cycles(import_graph(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
    for c in found:
        print("cycle:", " <-> ".join(c))
    print(len(found), "cycles")
