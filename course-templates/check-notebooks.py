#!/usr/bin/env python3
"""Runs a template's starter notebooks the way a student would, to prove they teach what they say.

    python3 course-templates/check-notebooks.py TEMPLATE_DIR [--solutions FILE]

For each notebook in TEMPLATE_DIR/starter (in name order): checks it is valid nbformat 4 (with the
nbformat package when present), then runs its code cells in order in one namespace, as "Run All"
does. Exercise cells (tagged "exercise") are replaced by the solution of the same cell id from the
solutions file (default TEMPLATE_DIR/solutions/solutions.json), so every check cell must pass; then
the notebook is run again as shipped, where every check cell after an unsolved exercise must fail,
so no check passes by accident. Run it inside the template's image, where the kernel's packages are.
Exit status 0 when all is well; the first problem is printed with the notebook and cell id.
"""
import contextlib
import io
import json
import os
import sys
import traceback

os.environ.setdefault("MPLBACKEND", "Agg")  # plots render off-screen: no display in a build container


def load(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    if nb.get("nbformat") != 4:
        raise SystemExit(f"{path}: nbformat is {nb.get('nbformat')!r}, expected 4")
    try:
        import nbformat  # Debian's python3-nbformat, a dependency of the notebook server
    except ImportError:
        nbformat = None
    if nbformat is not None:
        nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))
    for c in nb["cells"]:
        if c["cell_type"] == "code" and c.get("outputs"):
            raise SystemExit(f"{path}: cell {c.get('id')} ships with outputs; clear them first")
    return nb


def source(cell):
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def run(nb, path, solutions, solved):
    """Runs the code cells; returns [(cell id, tags, error or None)] for each code cell."""
    namespace = {"__name__": "__main__"}
    results = []
    cwd = os.getcwd()
    os.chdir(os.path.dirname(os.path.abspath(path)))  # students' cells run in their home folder
    try:
        for c in nb["cells"]:
            if c["cell_type"] != "code":
                continue
            tags = c.get("metadata", {}).get("tags", [])
            code = source(c)
            if solved and "exercise" in tags:
                if c.get("id") not in solutions:
                    raise SystemExit(f"{path}: no solution for exercise cell {c.get('id')}")
                code = solutions[c["id"]]
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, f"{os.path.basename(path)}:{c.get('id')}", "exec"), namespace)
                results.append((c.get("id"), tags, None, out.getvalue()))
            except Exception as err:  # noqa: BLE001 — a student's cell may raise anything
                results.append((c.get("id"), tags, err, out.getvalue()))
    finally:
        os.chdir(cwd)
    return results


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    template = argv[0]
    sol_file = argv[argv.index("--solutions") + 1] if "--solutions" in argv else os.path.join(template, "solutions", "solutions.json")
    all_solutions = json.load(open(sol_file, encoding="utf-8")) if os.path.exists(sol_file) else {}
    starter = os.path.join(template, "starter")
    notebooks = sorted(n for n in os.listdir(starter) if n.endswith(".ipynb"))
    if not notebooks:
        print(f"{starter}: no notebooks")
        return 1
    failed = False
    for name in notebooks:
        path = os.path.join(starter, name)
        nb = load(path)
        solutions = all_solutions.get(name, {})
        solved = run(nb, path, solutions, solved=True)
        bad = [(cid, err) for cid, _tags, err, _out in solved if err is not None]
        checks = sum(1 for _cid, tags, _e, _o in solved if "check" in tags)
        if bad:
            failed = True
            cid, err = bad[0]
            print(f"FAIL {name}: cell {cid} raised {type(err).__name__}: {err}")
            traceback.print_exception(type(err), err, err.__traceback__, limit=3)
            continue
        shipped = run(nb, path, solutions, solved=False)
        # A check right after an unsolved exercise must fail: the exercise is really asked for.
        passing_unsolved = []
        after_exercise = False
        for cid, tags, err, _out in shipped:
            if "exercise" in tags:
                after_exercise = True
            elif "check" in tags:
                if after_exercise and err is None:
                    passing_unsolved.append(cid)
                after_exercise = False
        if passing_unsolved:
            failed = True
            print(f"FAIL {name}: check cell(s) {', '.join(passing_unsolved)} pass without the exercise solved")
            continue
        exercises = sum(1 for c in nb["cells"] if "exercise" in c.get("metadata", {}).get("tags", []))
        print(f"ok   {name}: {len(solved)} code cells ran; {exercises} exercises, {checks} checks pass when solved and fail when not")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
