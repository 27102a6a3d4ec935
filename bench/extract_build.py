#!/usr/bin/env python3
"""Benchmark kbtrans extract/build on a generated knowledge base (and mdpo on the same KB, if installed).

    .venv/bin/python bench/extract_build.py [--notes 2000] [--keep DIR] [--no-mdpo] [--jobs N]

Generates a deterministic KB of N notes (Russian and English, ~40 blocks and ~12 KB each) in a temporary
directory, then runs kbtrans as a subprocess per command (``python -m kbtrans -C KB ...``) and measures
wall time and peak memory (sum of the RSS of the command's process tree, polled from /proc, and at least
the largest single process' max RSS):

* ``extract_s``  cold extract (no catalogs yet);
* identity catalogs: every msgstr set to its msgid (not timed), then one extract to take them in
  (``refresh_s``: catalogs changed, notes did not);
* ``build_s``    cold build (no build/ folder);
* ``rerun_s``    extract + build again with nothing changed (must write nothing);
* ``edit_one_s`` extract + build after editing a sentence of one note;
* ``check_s`` / ``stats_s`` when those commands exist.

With mdpo installed (``pip install mdpo``) its md2po / po2md run on the same notes in the same run (one PO
per note, in one process: mdpo has no parallel mode) and the ratios kbtrans ÷ mdpo are printed. The last
line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# -- the knowledge base ------------------------------------------------------------------------------

_RU = (
    "модель обучение данные код токен контекст слой внимание градиент функция потерь выборка набор "
    "репозиторий файл строка язык программирования генерация оценка метрика тест задача решение "
    "пример шаг эпоха скорость памяти вычисления ускоритель архитектура трансформер декодер энкодер "
    "параметр веса оптимизатор расписание разогрев дистилляция дообучение инструкция ответ запрос "
    "пользователь система инструмент поиск документ фрагмент окно длина последовательность позиция "
    "кодирование словарь разбиение байт символ пробел отступ комментарий функции класса модуль "
    "библиотека зависимость сборка проверка качество фильтрация дедупликация лицензия источник "
    "результат сравнение базовый уровень точность полнота ошибка вероятность температура выборки "
    "жадный поиск луч стратегия кэш ключей значений квантование сжатие латентность пропускная "
    "способность сервер клиент редактор подсказка завершение вставка середина префикс суффикс "
    "очень быстро медленно хорошо плохо часто редко всегда обычно например однако поэтому также "
    "который которая которые этот эта эти новый новая большой малый длинный короткий важный "
    "использует обучает проверяет генерирует улучшает снижает увеличивает сравнивает показывает"
)
_EN = (
    "model training data code token context layer attention gradient loss function sample dataset "
    "repository file line programming language generation evaluation metric test task solution "
    "example step epoch speed memory compute accelerator architecture transformer decoder encoder "
    "parameter weights optimizer schedule warmup distillation fine-tuning instruction answer query "
    "user system tool search document fragment window length sequence position encoding vocabulary "
    "split byte character whitespace indentation comment function class module library dependency "
    "build check quality filtering deduplication license source result comparison baseline accuracy "
    "recall error probability temperature sampling greedy beam strategy cache keys values quantization "
    "compression latency throughput server client editor prompt completion infilling middle prefix "
    "suffix very quickly slowly well badly often rarely always usually however therefore also which "
    "this these new large small long short important uses trains checks generates improves reduces "
    "increases compares shows the a of in on for with and or to is are was"
)
RU_WORDS, EN_WORDS = _RU.split(), _EN.split()
RU_HEADS = ("Введение", "Обзор", "Данные", "Обучение", "Оценка", "Результаты", "Ограничения", "Выводы",
            "Архитектура", "Токенизация", "Инференс", "Примеры", "Метрики", "Сравнение", "Литература")
EN_HEADS = ("Introduction", "Overview", "Data", "Training", "Evaluation", "Results", "Limitations",
            "Conclusions", "Architecture", "Tokenization", "Inference", "Examples", "Metrics", "Comparison",
            "References")
CODE = (
    "def tokenize(text: str) -> list[int]:\n    ids = []\n    for piece in text.split():\n"
    "        ids.append(vocab.get(piece, UNK))\n    return ids\n",
    "for epoch in range(epochs):\n    for batch in loader:\n        loss = model(batch).loss\n"
    "        loss.backward()\n        opt.step()\n",
    "$ kbtrans extract && kbtrans build --to en\n",
)


class _Gen:
    def __init__(self, rnd: random.Random, ru: bool, names: list[str], heads: dict[str, list[str]]) -> None:
        self.rnd, self.ru, self.names, self.heads = rnd, ru, names, heads
        self.words = RU_WORDS if ru else EN_WORDS
        self.fn = 0

    def phrase(self, lo: int, hi: int) -> str:
        return " ".join(self.rnd.choice(self.words) for _ in range(self.rnd.randint(lo, hi)))

    def inline(self) -> str:
        r, k = self.rnd, self.rnd.random()
        if k < 0.2:
            return f"**{self.phrase(1, 3)}**"
        if k < 0.35:
            return f"*{self.phrase(1, 3)}*"
        if k < 0.5:
            return f"`{r.choice(('top_p', 'max_len', 'fim_rate', 'kv_cache', 'pass@k'))}`"
        if k < 0.6:
            return f"[{self.phrase(1, 3)}](https://example.org/{r.randint(1, 999)} \"{self.phrase(1, 2)}\")"
        if k < 0.75:
            target = r.choice(self.names)
            return f"[[{target}|{self.phrase(1, 2)}]]" if r.random() < 0.5 else f"[[{target}]]"
        if k < 0.85:
            target = r.choice(self.names)
            return f"[[{target}#{r.choice(self.heads[target])}|{self.phrase(1, 2)}]]"
        if k < 0.93:
            self.fn += 1
            return f"[^{self.fn}]"
        return f"${r.choice(('O(n^2)', 'p(x)', 'k=10', 'T<1'))}$"

    def sentence(self) -> str:
        parts = [self.phrase(3, 9)]
        for _ in range(self.rnd.randint(0, 2)):
            parts.append(self.inline())
            parts.append(self.phrase(2, 7))
        s = " ".join(parts)
        return s[0].upper() + s[1:] + "."

    def paragraph(self, lo: int = 2, hi: int = 4) -> str:
        sents = [self.sentence() for _ in range(self.rnd.randint(lo, hi))]
        if self.rnd.random() < 0.3:  # soft line breaks
            return "\n".join(sents)
        return " ".join(sents)


def make_note(i: int, names: list[str], heads: dict[str, list[str]], langs: list[bool]) -> str:
    """Note ``i``: front matter, ~40 blocks, ~12 KB. Deterministic."""
    rnd = random.Random(i)
    ru = langs[i]
    g = _Gen(rnd, ru, names, heads)
    title = g.phrase(2, 4).capitalize()
    out = ["---", f"title: {title}", "aliases:", f"  - {g.phrase(1, 3)}", f"  - \"{g.phrase(1, 3)}\"",
           f"description: {g.phrase(6, 12)}", "tags: [llm, code]"]
    if i % 2 == 0:
        out.append(f"lang: {'ru' if ru else 'en'}")
    out += [f"date: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "---", "", f"# {title}", "", g.paragraph(), ""]
    for h in heads[names[i]]:
        out += [f"## {h}", "", g.paragraph(), ""]
        k = rnd.random()
        if k < 0.25:
            out += [f"- {g.sentence()}" for _ in range(rnd.randint(3, 5))] + [""]
        elif k < 0.45:
            out += [f"{n}. **{g.phrase(1, 2)}** — {g.sentence()}" for n in range(1, rnd.randint(3, 5))] + [""]
        elif k < 0.6:
            out += [f"| {g.phrase(1, 2)} | {g.phrase(1, 2)} | {g.phrase(1, 2)} |", "|---|---|---|"]
            out += [f"| {g.phrase(1, 3)} | `{rnd.randint(1, 99)}` | {g.inline()} |" for _ in range(3)] + [""]
        elif k < 0.72:
            out += ["```python" if rnd.random() < 0.7 else "```", rnd.choice(CODE).rstrip("\n"), "```", ""]
        elif k < 0.85:
            kind = rnd.choice(("note", "tip", "warning"))
            out += [f"> [!{kind}] {g.phrase(1, 3).capitalize()}", f"> {g.sentence()}", f"> {g.sentence()}", ""]
        else:
            out += [f"> {g.paragraph(1, 2)}", ""]
        out += [g.paragraph(), ""]
        if rnd.random() < 0.5:
            out += ["### " + g.phrase(1, 3).capitalize(), "", g.paragraph(1, 3), ""]
        if rnd.random() < 0.4:
            out += [f"- [[{rnd.choice(names)}]] - {g.phrase(2, 5)}" for _ in range(2)] + [""]
    for n in range(1, g.fn + 1):
        out += [f"[^{n}]: {g.sentence()}", ""]
    return "\n".join(out)


#: Notes generated from scratch; beyond them a note reuses note ``i % DISTINCT``'s text with variations.
DISTINCT = 10_000


def generate(root: Path, n: int) -> None:
    """Write ``n`` notes into ``root/content`` (about 70 % Russian)."""
    content = root / "content"
    rnd = random.Random(12345)
    names = [f"topic-{i % 20:02d}/note-{i:05d}" for i in range(n)]
    langs = [rnd.random() < 0.7 for _ in range(n)]
    heads = {}
    for i, name in enumerate(names):
        if i >= DISTINCT:  # a copy: the language and headings of the note whose text it reuses
            langs[i] = langs[i % DISTINCT]
            heads[name] = heads[names[i % DISTINCT]]
            continue
        pool = RU_HEADS if langs[i] else EN_HEADS
        heads[name] = random.Random(i * 7 + 1).sample(pool, 6)
    base: list[str] = []
    made: set[Path] = set()
    for i, name in enumerate(names):
        path = content / f"{name}.md"
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        if i < DISTINCT:
            text = make_note(i, names, heads, langs)
            base.append(text)
        else:  # a large KB reuses the first notes' texts, each with a title and a sentence of its own
            text = base[i % DISTINCT].replace("\ntitle: ", f"\ntitle: {i} ", 1).replace(
                "\n\n", f"\n\n{'Заметка' if langs[i % DISTINCT] else 'Note'} {i}.\n\n", 1)
        path.write_text(text, encoding="utf-8", newline="")


def fill_identity(locales: Path) -> int:
    """Set every empty msgstr to its msgid (text-level, for any PO with plain msgid/msgstr pairs)."""
    n = 0
    for path in locales.rglob("*.po"):
        lines = path.read_text(encoding="utf-8").split("\n")
        out: list[str] = []
        msgid: list[str] = []
        state = ""
        for i, line in enumerate(lines):
            if line.startswith("msgid "):
                msgid, state = [line[6:]], "id"
            elif line.startswith('"') and state == "id":
                msgid.append(line)
            elif line == 'msgstr ""' and state == "id" and msgid != ['""'] and not (
                    i + 1 < len(lines) and lines[i + 1].startswith('"')):
                out.append("msgstr " + "\n".join(msgid))
                state = ""
                n += 1
                continue
            else:
                state = ""
            out.append(line)
        path.write_text("\n".join(out), encoding="utf-8")
    return n


def blank_catalogs(locales: Path) -> int:
    """Empty every msgstr but the header's (text-level, the inverse of :func:`fill_identity`)."""
    n = 0
    for path in locales.rglob("*.po"):
        out: list[str] = []
        header = skipping = False
        for line in path.read_text(encoding="utf-8").split("\n"):
            if skipping and line.startswith('"'):
                continue
            skipping = False
            if line.startswith("msgid "):
                header = line == 'msgid ""'
            elif line.startswith('"') and header and out and out[-1].startswith("msgid"):
                header = False  # a multi-line msgid, not the header
            elif line.startswith("msgstr ") and not header:
                n += line != 'msgstr ""'
                out.append('msgstr ""')
                skipping = True
                continue
            out.append(line)
        path.write_text("\n".join(out), encoding="utf-8")
    return n


# -- measuring ----------------------------------------------------------------------------------------

def _tree_rss_kb(root_pid: int) -> int:
    """Sum of VmRSS of ``root_pid`` and its descendants (kB)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        m = re.search(r"^PPid:\s+(\d+)", text, re.M)
        r = re.search(r"^VmRSS:\s+(\d+)", text, re.M)
        if m:
            parents[int(entry)] = int(m.group(1))
            rss[int(entry)] = int(r.group(1)) if r else 0
    tree = {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(rss.get(p, 0) for p in tree)


#: CPU seconds (user + system) of the last command measured, its worker processes included.
LAST_CPU = [0.0]


def measure(argv: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``argv``; return (wall seconds, peak MB of its process tree, output). Raises on failure."""
    peak = [0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage.ru_maxrss
    cpu0 = usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = usage.ru_maxrss
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{out}")
    single = after if after > before else 0  # ru_maxrss is a max over children so far
    return wall, max(peak[0], single) / 1024, out


def kbtrans(kb: Path, *args: str, jobs: int | None) -> tuple[float, float, str]:
    extra = ["-j", str(jobs)] if jobs and args[0] in ("extract", "build") else []
    return measure([sys.executable, "-m", "kbtrans", "-C", str(kb), *args, *extra])


def has_command(name: str) -> bool:
    proc = subprocess.run([sys.executable, "-m", "kbtrans", name, "--help"], capture_output=True, text=True)
    return proc.returncode == 0


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                st = p.stat()
                out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def identical(kb: Path) -> tuple[int, int]:
    """(built notes identical to their source except `lang:`, built notes compared)."""
    lang = re.compile(rb"(?m)^(lang:[ \t]*['\"]?)[A-Za-z-]+")
    same = total = 0
    for src in (kb / "content").rglob("*.md"):
        rel = src.relative_to(kb / "content")
        want = lang.sub(rb"\1XX", src.read_bytes(), count=1)
        for loc in ("ru", "en"):
            total += 1
            same += lang.sub(rb"\1XX", (kb / "build" / loc / rel).read_bytes(), count=1) == want
    return same, total


# -- mdpo ---------------------------------------------------------------------------------------------

def mdpo_worker(phase: str, kb: Path) -> None:
    """Run in a subprocess: mdpo's md2po (phase "extract") or po2md ("build") over every note."""
    import warnings

    warnings.filterwarnings("ignore")
    from mdpo.md2po import markdown_to_pofile
    from mdpo.po2md import pofile_to_markdown

    content = kb / "content"
    for note in sorted(content.rglob("*.md")):
        rel = note.relative_to(content).with_suffix("")
        po = kb / "mdpo-locales" / f"{rel}.po"
        if phase == "extract":
            po.parent.mkdir(parents=True, exist_ok=True)
            markdown_to_pofile(str(note), po_filepath=str(po), save=True)
        else:
            out = kb / "mdpo-build" / f"{rel}.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            pofile_to_markdown(str(note), str(po), save=str(out))


def mdpo_available() -> bool:
    proc = subprocess.run([sys.executable, "-c", "import mdpo.md2po, mdpo.po2md"], capture_output=True)
    return proc.returncode == 0


# -- main ---------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, default=2000, help="notes in the generated KB (default 2000)")
    ap.add_argument("--keep", type=Path, help="generate the KB in this (new) folder and keep it")
    ap.add_argument("--no-mdpo", action="store_true", help="do not time mdpo even if it is installed")
    ap.add_argument("--jobs", type=int, help="kbtrans -j (default: all cores)")
    ap.add_argument("--mdpo-worker", nargs=2, metavar=("PHASE", "KB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mdpo_worker:
        mdpo_worker(args.mdpo_worker[0], Path(args.mdpo_worker[1]))
        return

    tmp = None
    if args.keep:
        kb = args.keep.resolve()
        if kb.exists():
            raise SystemExit(f"{kb} exists; pass a new folder to --keep")
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kbtrans-bench-")
        kb = Path(tmp.name) / "kb"
    try:
        res = run(kb, args)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(res))


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"
    except OSError:
        return "load average unknown"


def compile_bytecode() -> None:
    """Compile kbtrans' modules to bytecode once, as ``pip install`` does.

    An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on some CI machines) would otherwise
    recompile every module in every command, which is not what an installed kbtrans costs.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("kbtrans")  # where the commands will import it from (not imported here)
    package = (spec.submodule_search_locations or [""])[0] if spec else ""
    if not package or not compileall.compile_dir(package, quiet=1):
        print(f"note: could not compile {package or 'kbtrans'} to bytecode; each command compiles it again",
              flush=True)


def run(kb: Path, args: argparse.Namespace) -> dict[str, object]:
    n = args.notes
    compile_bytecode()
    t0 = time.perf_counter()
    generate(kb, n)
    size = sum(p.stat().st_size for p in (kb / "content").rglob("*.md"))
    print(f"generated {n} notes, {size / n / 1024:.1f} KB per note, {size / 2**20:.1f} MB "
          f"in {time.perf_counter() - t0:.1f} s; {_load()}", flush=True)
    res: dict[str, object] = {"notes": n}
    peaks: list[float] = []
    cpu: dict[str, float] = {}
    j = args.jobs

    def step(label: str, key: str | None, *cmd: str) -> float:
        wall, mb, out = kbtrans(kb, *cmd, jobs=j)
        peaks.append(mb)
        last = out.strip().splitlines()[-1] if out.strip() else ""
        print(f"  {label:<28} {wall:7.2f} s  {LAST_CPU[0]:6.2f} s CPU  {mb:5.0f} MB   {last[:90]}", flush=True)
        cpu[label] = LAST_CPU[0]
        if key:
            res[key] = round(wall, 3)
            res[key.replace("_s", "_mb")] = round(mb, 1)
        return wall

    print("kbtrans:", flush=True)
    step("extract (cold)", "extract_s", "extract")
    filled = fill_identity(kb / "locales")
    print(f"  identity catalogs: {filled} msgstr = msgid", flush=True)
    step("extract (catalogs edited)", "refresh_s", "extract")
    step("build (cold)", "build_s", "build")
    same, total = identical(kb)
    print(f"  identity rebuild: {same}/{total} built notes byte-identical to their source", flush=True)
    res["identical"] = same == total

    snap = snapshot(kb / "locales", kb / "build")
    t = step("re-run extract", None, "extract") + step("re-run build", None, "build")
    res["rerun_s"] = round(t, 3)
    changed = [k for k, v in snapshot(kb / "locales", kb / "build").items() if snap.get(k) != v]
    res["rerun_writes"] = len(changed)
    print(f"  re-run with nothing changed: {t:.2f} s, {len(changed)} files written", flush=True)

    note = kb / "content" / "topic-07" / "note-00007.md"
    if not note.exists():
        note = sorted((kb / "content").rglob("*.md"))[0]
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace(".", ", edited.", 1), encoding="utf-8", newline="")
    t = step("edit one: extract", None, "extract") + step("edit one: build", None, "build")
    res["edit_one_s"] = round(t, 3)
    cold = float(res["extract_s"]) + float(res["build_s"])  # type: ignore[arg-type]
    res["edit_one_pct"] = round(100 * t / cold, 2)
    print(f"  re-run after editing one note: {t:.2f} s = {res['edit_one_pct']} % of cold extract+build",
          flush=True)

    for cmd, key, argv in (("check", "check_s", ["check"]), ("stats", "stats_s", ["stats", "--json"])):
        if has_command(cmd):
            try:
                step(cmd, key, *argv)
                res[key.replace("_s", "_ratio")] = round(float(res[key]) / float(res["extract_s"]), 3)  # type: ignore[arg-type]
            except SystemExit as exc:  # a failing check is reported, not fatal
                print(f"  {cmd} failed: {str(exc)[:300]}", flush=True)
    if has_command("translate"):  # every entry to do: the catalogs are emptied first (not timed)
        print(f"  emptied catalogs: {blank_catalogs(kb / 'locales')} msgstr", flush=True)
        try:
            step("translate (pseudo, all)", "translate_s", "translate", "--engine", "pseudo")
            res["translate_ratio"] = round(float(res["translate_s"]) / float(res["extract_s"]), 3)  # type: ignore[arg-type]
        except SystemExit as exc:
            print(f"  translate failed: {str(exc)[:300]}", flush=True)
    res["peak_mb"] = round(max(peaks), 1)
    res["extract_cpu_s"] = round(cpu["extract (cold)"], 3)
    res["build_cpu_s"] = round(cpu["build (cold)"], 3)
    res["edit_one_cpu_s"] = round(cpu["edit one: extract"] + cpu["edit one: build"], 3)

    if not args.no_mdpo and mdpo_available():
        print("mdpo (one process, one PO per note):", flush=True)
        me = [sys.executable, str(Path(__file__).resolve()), "--mdpo-worker"]
        wall, mb, _ = measure([*me, "extract", str(kb)])
        print(f"  {'md2po':<28} {wall:7.2f} s  {LAST_CPU[0]:6.2f} s CPU  {mb:5.0f} MB", flush=True)
        res["mdpo_extract_s"] = round(wall, 3)
        res["mdpo_extract_cpu_s"] = round(LAST_CPU[0], 3)
        fill_identity(kb / "mdpo-locales")
        wall, mb, _ = measure([*me, "build", str(kb)])
        print(f"  {'po2md':<28} {wall:7.2f} s  {LAST_CPU[0]:6.2f} s CPU  {mb:5.0f} MB", flush=True)
        res["mdpo_build_s"] = round(wall, 3)
        res["mdpo_build_cpu_s"] = round(LAST_CPU[0], 3)
        res["extract_ratio"] = round(float(res["extract_s"]) / float(res["mdpo_extract_s"]), 3)  # type: ignore[arg-type]
        res["build_ratio"] = round(float(res["build_s"]) / float(res["mdpo_build_s"]), 3)  # type: ignore[arg-type]
    elif not args.no_mdpo:
        print("mdpo is not installed (pip install mdpo): no comparison", flush=True)
    print(f"done; {_load()}", flush=True)
    return res


if __name__ == "__main__":
    main()
