"""Accuracy of the routing check's classifier (studio.core.picture_kinds) per language.

    .venv/bin/python bench/picture_kinds_accuracy.py [tests/data/picture_descriptions.jsonl]

Each line of the set: {"lang", "kind", "description"}; kind is a source or "none" (ambiguous: the
classifier must leave it alone). Prints one row per language and the total; with --wrong, the
misses.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from studio.core.picture_kinds import classify

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "picture_descriptions.jsonl"


def measure(path: Path) -> tuple[dict[str, tuple[int, int]], list[tuple[str, str, str, str]]]:
    """Per language (correct, total), and the misses (lang, description, expected, got)."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        verdict = classify(row["description"])
        got = verdict.kind if verdict else "none"
        per[row["lang"]][1] += 1
        if got == row["kind"]:
            per[row["lang"]][0] += 1
        else:
            wrong.append((row["lang"], row["description"], row["kind"], got))
    return {lang: (c, t) for lang, (c, t) in per.items()}, wrong


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    per, wrong = measure(Path(args[0]) if args else DEFAULT)
    for lang, (correct, total) in per.items():
        print(f"{lang}  {correct:3d}/{total:<3d} {correct / total:6.1%}")
    correct, total = sum(c for c, _ in per.values()), sum(t for _, t in per.values())
    print(f"all {correct:3d}/{total:<3d} {correct / total:6.1%}")
    if "--wrong" in argv:
        for lang, text, expected, got in wrong:
            print(f"  {lang} {expected:>9} -> {got:<9} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
