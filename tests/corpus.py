"""Access to the shared corpus of real captures (``../shared/corpus``), when present."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    path: Path
    packets: int
    sip_messages_tshark: int
    tshark_args: str


def corpus_entries() -> list[CorpusEntry]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with open(manifest, newline="", encoding="utf-8") as f:
        return [
            CorpusEntry(
                r["name"],
                CORPUS / "files" / r["name"],
                int(r["packets"]),
                int(r["sip_messages_tshark"]),
                r.get("tshark_args") or "",
            )
            for r in csv.DictReader(f, delimiter="\t")
        ]


def require_corpus() -> None:
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")


# One SIP message as both sides see it: (frame, what, call_id, cseq), where
# ``what`` is the method of a request or the status code of a response.
MessageKey = tuple[int, str, str, str]


def tshark_messages(name: str) -> Counter[MessageKey]:
    """tshark's view from ``tshark/NAME.tsv``; one row per frame, values of several
    messages in one frame joined by commas (as ``-E occurrence=a -E aggregator=,``)."""
    out: Counter[MessageKey] = Counter()
    with open(CORPUS / "tshark" / f"{name}.tsv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            frame = int(r["frame.number"])
            methods = [m for m in r["sip.Method"].split(",") if m]
            statuses = [s for s in r["sip.Status-Code"].split(",") if s]
            call_ids = r["sip.Call-ID"].split(",") if r["sip.Call-ID"] else []
            cseqs = r["sip.CSeq"].split(",") if r["sip.CSeq"] else []
            whats = methods + statuses
            n = max(len(whats), len(call_ids), len(cseqs), 1)
            # tshark does not say which Call-ID goes with which start line when
            # a frame holds several messages; pair them up sorted, which is
            # how our side is keyed as well.
            whats += [""] * (n - len(whats))
            call_ids += [""] * (n - len(call_ids))
            cseqs += [""] * (n - len(cseqs))
            for what, cid, cseq in zip(sorted(whats), sorted(call_ids), sorted(cseqs), strict=True):
                out[(frame, what, cid, " ".join(cseq.split()))] += 1
    return out
