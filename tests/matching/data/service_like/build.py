"""Build the service-like check set from the demo's experts and the written judgements.

Usage::

    python tests/matching/data/service_like/build.py [--check]

The demands (demands.jsonl) were written first, in enterprise language; the judgements
(judgements.json) after, by reading the demo's expert vocabulary and profiles: for each demand
the technical concepts a domain reader accepts. An expert is judged relevant 2 when one of the
demand's ``core`` concepts is among its research fields, 1 when a ``core`` concept appears only
in its items or a ``field_only`` concept is among its research fields. Nothing here reads a
ranking.

experts.jsonl keeps the profiles that were judged, in the parts the service stores (key,
institution, title, research fields, summary, items with their kind, title, text and year; no
phone or e-mail; the names are the generator's fictional ones, inside the summary as the service
holds it), so ``scripts/evaluate.py`` builds the service's own tokens and texts from them and the
demo's shipped vectors apply. The set stays valid whatever later changes the demo's generator
gets: the snapshot is the generator of commit 3702066 (``git show 3702066:app/demo/content.py``
reproduces it), and ``--check`` reports how many of today's demo profiles differ from it
(1,689 of 2,000 by key on 2026-12-02; 1,279 of its profiles are in today's demo unchanged).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def demo_experts() -> list[dict]:
    """Return the demo's expert profiles (seed 2022, 2,000 experts) in the set's format."""
    from app.demo import content

    data = content.build_demo(seed=2022, n_experts=2000)
    return [{
        "id": e.key, "institution": e.institution, "title": e.title,
        "research_fields": "；".join(e.research_fields), "summary": e.summary,
        "sub_areas": list(e.sub_areas),
        "items": [{"kind": i.kind, "title": i.title, "text": i.text, "year": i.year}
                  for i in e.items],
    } for e in data.experts]


def _profile(expert: dict) -> str:
    """Return the profile text the service encodes (what ``--check`` compares)."""
    from matching.semantic import item_passage, profile_passage

    return profile_passage(expert["title"], expert["research_fields"], expert["summary"],
                           [item_passage(i["title"], i["text"]) for i in expert["items"]])


def judge(experts: list[dict], rules: dict) -> list[tuple[str, str, int]]:
    """Apply the written judgements to the profiles; return (demand, expert, relevance) rows."""
    rows = []
    for did, rule in rules.items():
        for e in experts:
            fields = e["research_fields"]
            items = " ".join(f"{i['title']}；{i['text']}" for i in e["items"])
            if any(c in fields for c in rule["core"]):
                rows.append((did, e["id"], 2))
            elif any(c in items for c in rule["core"]) or any(
                    c in fields for c in rule["field_only"]):
                rows.append((did, e["id"], 1))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write experts.jsonl and qrels.tsv, or check them against today's demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    experts = demo_experts()
    if args.check:
        stored = {json.loads(line)["id"]: json.loads(line)
                  for line in (HERE / "experts.jsonl").read_text("utf-8").splitlines()}
        changed = sum(1 for e in experts
                      if e["id"] not in stored or _profile(stored[e["id"]]) != _profile(e))
        print(f"{changed} of {len(experts)} demo profiles differ from the judged snapshot")
        return 0
    rules = json.loads((HERE / "judgements.json").read_text("utf-8"))
    with open(HERE / "experts.jsonl", "w", encoding="utf-8") as fh:
        for e in experts:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    rows = judge(experts, rules)
    with open(HERE / "qrels.tsv", "w", encoding="utf-8") as fh:
        fh.write("demand_id\texpert_id\trelevance\n")
        fh.writelines(f"{d}\t{e}\t{r}\n" for d, e, r in rows)
    per = {d: sum(1 for r in rows if r[0] == d) for d in rules}
    print(f"{len(experts)} experts, {len(rules)} demands, {len(rows)} judgements; "
          f"relevant per demand min {min(per.values())}, max {max(per.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
