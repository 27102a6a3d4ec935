#!/usr/bin/env python3
"""Benchmark ``kbtrans build --site mkdocs|hugo`` on a generated knowledge base.

    .venv/bin/python bench/site_build.py [--notes 500] [--jobs N] [--generators] [--keep DIR]

Generates the KB of ``bench/extract_build.py`` (identity catalogs: every entry translated), then measures,
each as a subprocess (``python -m kbtrans -C KB ...``), wall time and peak memory of:

* ``build_s``         the vaults alone, cold, and ``rerun_s`` with nothing changed;
* ``site_mkdocs_s``   ``build --site mkdocs`` once the vaults are up to date (the site's own cost), and
  ``site_hugo_s`` the same for Hugo;
* with ``--generators``: ``mkdocs build --strict`` and ``hugo`` on those sites (``mkdocs_s``, ``hugo_s``).

Ratios are printed against ``build_s``. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_build import fill_identity, generate, kbtrans, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--generators", action="store_true", help="also run mkdocs and hugo on the sites")
    ap.add_argument("--keep", type=Path, help="build the KB here and keep it")
    args = ap.parse_args()
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="kbtrans-site-bench-")
    kb = args.keep or Path(tmp.name if tmp else ".")  # type: ignore[union-attr]
    kb.mkdir(parents=True, exist_ok=True)
    try:
        generate(kb, args.notes)
        kbtrans(kb, "extract", jobs=args.jobs)
        fill_identity(kb / "locales")
        kbtrans(kb, "extract", jobs=args.jobs)
        result: dict[str, object] = {"notes": args.notes}
        result["build_s"], result["build_mb"], _ = kbtrans(kb, "build", jobs=args.jobs)
        result["rerun_s"], _, _ = kbtrans(kb, "build", jobs=args.jobs)
        for kind in ("mkdocs", "hugo"):
            (kb / "kbtrans.toml").write_text(f'site_output = "build/{kind}"\n', "utf-8")
            wall, mb, out = kbtrans(kb, "build", "--site", kind, jobs=args.jobs)
            result[f"site_{kind}_s"], result[f"site_{kind}_mb"] = wall, mb
            result[f"site_{kind}_pages"] = int(out.rsplit(" pages,", 1)[0].rsplit(" ", 1)[1])
        if args.generators:
            if shutil.which("hugo"):
                result["hugo_s"], _, _ = measure(["hugo", "-s", str(kb / "build/hugo")])
            proc = subprocess.run([sys.executable, "-c", "import mkdocs, material, mkdocs_static_i18n"],
                                  capture_output=True)
            if proc.returncode == 0:
                result["mkdocs_s"], _, _ = measure([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                                                    str(kb / "build/mkdocs/mkdocs.yml")])
        base = float(result["build_s"])  # type: ignore[arg-type]
        for key in ("rerun_s", "site_mkdocs_s", "site_hugo_s", "mkdocs_s", "hugo_s"):
            if key in result:
                print(f"{key:>15}: {float(result[key]):7.2f} s  ({float(result[key]) / base:.2f} × cold build)")  # type: ignore[arg-type]
        print(json.dumps(result))
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
