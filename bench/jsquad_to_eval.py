"""Convert JSQuAD (SQuAD-format JSON) into the `kb eval` retrieval format.

JSQuAD asks questions about Wikipedia paragraphs; as a retrieval benchmark each
paragraph is a document and each question must find the paragraph it was
written from.  The `context` field is "title [SEP] paragraph": the title goes
into the document's title, the paragraph into its text.

    python bench/jsquad_to_eval.py ../shared/data/jsquad-valid-v1.3.json /tmp/jsquad-eval.json

Output: {"docs": [{"id", "title", "text"}], "queries": [{"q", "gold": [doc id]}]}.
Paragraph ids are the question ids without their "qN" suffix (a10336p0q0 -> a10336p0).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SEP = " [SEP] "


class ConversionError(Exception):
    """The input is not JSQuAD-shaped; the message names the file and the reason."""


def paragraph_id(question_id: str) -> str:
    m = re.match(r"^(.*p\d+)q\d+$", question_id)
    return m.group(1) if m else question_id.rsplit("q", 1)[0]


def convert(squad: dict, source: str = "<input>") -> dict:
    """SQuAD-format dict -> eval dict (every paragraph, every answerable question)."""
    if "data" not in squad:
        raise ConversionError(f"{source}: no 'data' list: not a SQuAD/JSQuAD file")
    docs, queries, seen = [], [], set()
    for article in squad["data"]:
        for n, para in enumerate(article["paragraphs"]):
            context = para["context"]
            title, text = context.split(SEP, 1) if SEP in context else (article.get("title", ""), context)
            qas = para.get("qas", [])
            pid = paragraph_id(qas[0]["id"]) if qas else f"{article.get('title', 'doc')}-{n}"
            if pid in seen:
                raise ConversionError(f"{source}: paragraph id {pid} occurs twice")
            seen.add(pid)
            docs.append({"id": pid, "title": title.strip(), "text": text.strip()})
            for qa in qas:
                if not qa.get("is_impossible", False):
                    queries.append({"q": qa["question"], "gold": [pid]})
    return {"docs": docs, "queries": queries}


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        squad = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{path}: cannot read JSON ({exc})") from exc
    return convert(squad, str(path))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python bench/jsquad_to_eval.py JSQUAD.json OUT.json", file=sys.stderr)
        return 2
    try:
        out = load(argv[0])
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    Path(argv[1]).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(out['docs'])} documents, {len(out['queries'])} queries -> {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
