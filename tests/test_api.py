"""The Python API as docs/api.md documents it.

The DataFrame tables of docs/api.md are parsed and compared with the real
DataFrames column by column (name, dtype, order) and index by index, so the
reference cannot drift from the code.  The id columns are checked to join
onto the tables they name, and the public names to carry docstrings.
"""

from __future__ import annotations

import argparse
import dataclasses
import doctest
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

import analyzer
from analyzer.analysis import Analysis, analyze
from analyzer.cli import _build_parser
from tests.builders import pcap_bytes
from tests.packets import MAC_A, MAC_B, ether, ipv4, udp
from tests.sipmsg import sip_bytes

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
API_DOC = ROOT / "docs" / "api.md"

#: The DataFrame attributes of Analysis, in the order docs/api.md gives them.
FRAMES = (
    "messages",
    "transactions",
    "dialogs",
    "calls",
    "subscriptions",
    "notifications",
    "reginfo",
    "registrations",
    "findings",
    "diagnostics",
)

#: Samples whose tables the documentation is compared with.
DOC_SAMPLES = ("welcome-notice.pcap", "basic-call.pcap")
#: Samples the join checks run on.
JOIN_SAMPLES = ("welcome-notice.pcap", "basic-call.pcap", "tcp-mixed.pcap")


@dataclasses.dataclass(frozen=True)
class DocFrame:
    """One ``### `name``` section of the DataFrames part of docs/api.md."""

    name: str
    index_name: str | None
    index_dtype: str
    columns: tuple[tuple[str, str], ...]


_SECTION_RE = re.compile(r"^### `(\w+)`\s*$", re.MULTILINE)
_INDEX_RE = re.compile(r"^Index: (?:\*\*`(\w+)`\*\*|unnamed) \(`([\w\[\], ]+)`\)", re.MULTILINE)
_ROW_RE = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \| (.+) \|$", re.MULTILINE)


def _section(text: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


@cache
def doc_frames() -> dict[str, DocFrame]:
    part = _section(API_DOC.read_text(encoding="utf-8"), "DataFrames")
    heads = list(_SECTION_RE.finditer(part))
    out: dict[str, DocFrame] = {}
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        body = part[head.end() : nxt.start() if nxt is not None else len(part)]
        index = _INDEX_RE.search(body)
        assert index is not None, f"docs/api.md: no 'Index:' line under {head[1]}"
        rows = tuple((m[1], m[2]) for m in _ROW_RE.finditer(body))
        assert rows, f"docs/api.md: no column table under {head[1]}"
        assert all(m[3].strip() for m in _ROW_RE.finditer(body)), f"{head[1]}: empty meaning"
        out[head[1]] = DocFrame(head[1], index[1], index[2], rows)
    return out


@cache
def sample(name: str) -> Analysis:
    return analyze(SAMPLES / name)


def actual_columns(df: pd.DataFrame) -> list[tuple[str, str]]:
    return [(str(c), str(df[c].dtype)) for c in df.columns]


# -- the documentation matches the DataFrames -----------------------------------


def test_every_dataframe_is_documented_once_in_order() -> None:
    assert tuple(doc_frames()) == FRAMES


@pytest.mark.parametrize("capture", DOC_SAMPLES)
@pytest.mark.parametrize("frame", FRAMES)
def test_documented_columns_and_dtypes(capture: str, frame: str) -> None:
    doc = doc_frames()[frame]
    df = getattr(sample(capture), frame)
    assert list(doc.columns) == actual_columns(df), (
        f"docs/api.md section {frame!r} does not list the columns of {capture}'s "
        f"analysis.{frame} (name, dtype) in order"
    )
    assert df.index.name == doc.index_name
    assert str(df.index.dtype) == doc.index_dtype


def test_documented_tables_are_the_same_for_an_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(pcap_bytes([]))
    a = analyze(path)
    for frame, doc in doc_frames().items():
        df = getattr(a, frame)
        assert df.empty
        assert list(doc.columns) == actual_columns(df), frame
        assert df.index.name == doc.index_name, frame


def test_options_table_lists_every_field_in_order() -> None:
    part = _section(API_DOC.read_text(encoding="utf-8"), "`analyzer.Options`")
    documented = re.findall(r"^\| `(\w+)` \|", part, re.MULTILINE)
    assert documented == [f.name for f in dataclasses.fields(analyzer.Options)]


def _option_strings(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _option_strings(sub)


def test_documented_cli_flags_exist() -> None:
    part = _section(API_DOC.read_text(encoding="utf-8"), "`analyzer.Options`")
    flags = set(re.findall(r"`(--[a-z][a-z-]*)", part))
    assert flags, "the Options table names no flag"
    assert flags <= set(_option_strings(_build_parser()))


def test_analysis_attributes_documented_exist() -> None:
    part = _section(API_DOC.read_text(encoding="utf-8"), "`analyzer.Analysis`")
    table = part[: part.index("Methods:")]
    names = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    a = sample("basic-call.pcap")
    assert {"sip_messages", "correlation", "diagnostic_records", "stats", "sources"} <= set(names)
    for name in names:
        assert hasattr(a, name), name


def test_join_examples_run() -> None:
    """Every ``>>>`` example of "Joining tables" runs (outputs are not compared:
    their layout depends on the pandas version)."""
    part = _section(API_DOC.read_text(encoding="utf-8"), "Joining tables")
    examples = doctest.DocTestParser().get_examples(part)
    assert len(examples) >= 10
    namespace: dict[str, object] = {"analyzer": analyzer}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        for example in examples:
            exec(compile(example.source, "docs/api.md", "single"), namespace)


def _plain_signature(func: Callable[..., object]) -> str:
    """``name(a, b=None, *, c=(), **kw)``: a signature as the docs write it (no annotations)."""
    parts: list[str] = []
    star = False
    for p in inspect.signature(func).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
            continue
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if p.default is p.empty:
            parts.append(p.name)
        elif isinstance(p.default, str):
            parts.append(f'{p.name}="{p.default}"')
        else:
            parts.append(f"{p.name}={p.default!r}")
    return f"{func.__name__}({', '.join(parts)})"


_SIGNATURE_RE = re.compile(r"`(\w+\([^`]*\)) -> [^`]+`")


def _documented_signatures(heading: str) -> dict[str, str]:
    part = _section(API_DOC.read_text(encoding="utf-8"), heading)
    return {s.partition("(")[0]: s for s in _SIGNATURE_RE.findall(part)}


def test_analyze_signature_is_documented() -> None:
    part = _section(API_DOC.read_text(encoding="utf-8"), "`analyzer.analyze`")
    assert f"def {_plain_signature(analyze)} -> Analysis" in part


def test_analysis_method_signatures_are_documented() -> None:
    documented = _documented_signatures("`analyzer.Analysis`")
    assert {"message", "check", "ladder_model", "ladder", "ladder_html", "report"} <= set(
        documented
    )
    for name, text in documented.items():
        assert text == _plain_signature(getattr(Analysis, name)), name


@pytest.mark.parametrize("module", ["ladder", "report"])
def test_module_api_is_documented(module: str) -> None:
    mod = importlib.import_module(f"analyzer.{module}")
    heading = f"`analyzer.{module}`"
    part = _section(API_DOC.read_text(encoding="utf-8"), heading)
    rows = re.findall(r"^\| (.+?) \| .+ \|$", part, re.MULTILINE)
    named = {n for cell in rows for n in re.findall(r"`(\w+)", cell)} - {"name"}
    assert named == set(mod.__all__), f"docs/api.md {heading} and {module}.__all__ differ"
    for name, text in _documented_signatures(heading).items():
        assert text == _plain_signature(getattr(mod, name)), name


def test_code_examples_run(tmp_path: Path) -> None:
    """The ``python`` blocks of docs/api.md (other than the ``>>>`` sessions) run
    as written, "call.pcap" being a copy of the basic-call sample."""
    blocks = re.findall(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.DOTALL)
    blocks = [b for b in blocks if ">>>" not in b and not b.startswith("def ")]
    assert len(blocks) >= 6
    (tmp_path / "samples").symlink_to(SAMPLES)
    (tmp_path / "call.pcap").write_bytes((SAMPLES / "basic-call.pcap").read_bytes())
    namespace: dict[str, object] = {"analyzer": analyzer}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        for block in blocks:
            exec(compile(block, "docs/api.md", "exec"), namespace)
    assert (tmp_path / "welcome-notice.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")


# -- dtype contract -------------------------------------------------------------

#: Columns holding durations; every other ``time`` / ``*_time`` column is a time.
DURATIONS = {"response_time", "ringing_delay", "answer_delay", "duration"}
#: Columns holding one record id or message index.
ID_COLUMNS = {
    "transaction_id",
    "dialog_id",
    "call",
    "subscription_id",
    "document",
    "registration",
    "answered_dialog",
    "forked_from",
    "cancels",
    "request",
    "final",
    "ack",
    "bye",
}
#: Columns holding lists of message indices, record ids or frame numbers
#: (``registrations.attempts`` is a count, not the list ``calls.attempts`` is).
INT_LISTS = {
    "frames",
    "messages",
    "responses",
    "statuses",
    "request_retransmissions",
    "response_retransmissions",
    "linked",
    "creating_transactions",
    "transactions",
    "attempts",
    "dialogs",
}


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_dtype_contract(capture: str) -> None:
    a = sample(capture)
    for frame in FRAMES:
        df = getattr(a, frame)
        assert str(df.index.dtype) == "int64", frame
        for col in df.columns:
            dtype = str(df[col].dtype)
            where = f"{frame}.{col}"
            if col in DURATIONS:
                assert dtype == "timedelta64[ns]", where
            elif col == "time" or col.endswith("_time") or col == "expires_at":
                assert dtype == "datetime64[ns, UTC]", where
            elif col in ("frame", "first_frame", "ts_ns", "body_len"):
                assert dtype == "int64", where
            elif col in ID_COLUMNS:
                assert dtype in ("Int64", "int64"), where
            elif col in INT_LISTS and (frame, col) != ("registrations", "attempts"):
                assert dtype == "object", where
                for value in df[col]:
                    assert isinstance(value, list), where
                    assert all(type(v) is int for v in value), where


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_message_times_agree_with_ts_ns(capture: str) -> None:
    m = sample(capture).messages
    assert (m["time"].astype("int64") == m["ts_ns"]).all()
    assert all(fs == sorted(fs) and all(f >= 1 for f in fs) for fs in m["frames"])


# -- joins ------------------------------------------------------------------------


def _ids(series: pd.Series) -> set[int]:
    return {int(v) for v in series.dropna()}


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_message_links_join_onto_their_tables(capture: str) -> None:
    a = sample(capture)
    m = a.messages
    for column, table in (
        ("transaction_id", a.transactions),
        ("dialog_id", a.dialogs),
        ("call", a.calls),
        ("subscription_id", a.subscriptions),
    ):
        assert _ids(m[column]) <= set(table.index), column
        # ...and each linked message is among the messages of its record.
        for i, rid in m[column].dropna().items():
            assert i in table.at[int(rid), "messages"], (column, i)


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_transaction_messages_agree_with_message_links(capture: str) -> None:
    a = sample(capture)
    m, t = a.messages, a.transactions
    for tid, members in t["messages"].items():
        assert members == sorted(members)
        assert set(members) == set(m.index[m["transaction_id"] == tid]), tid
        assert tid == members[0]
        frames = sorted({f for i in members for f in m.at[i, "frames"]})
        assert t.at[tid, "frames"] == frames
        request = t.at[tid, "request"]
        if not pd.isna(request):
            assert m.at[int(request), "kind"] == "request"
        for i, status in zip(t.at[tid, "responses"], t.at[tid, "statuses"], strict=True):
            assert m.at[i, "status"] == status
    covered = sorted(i for members in t["messages"] for i in members)
    assert covered == sorted(m.index[m["transaction_id"].notna()])


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_id_columns_join_onto_their_tables(capture: str) -> None:
    a = sample(capture)
    refs = (
        (a.transactions, "dialog_id", a.dialogs),
        (a.transactions, "cancels", a.transactions),
        (a.transactions, "request", a.messages),
        (a.transactions, "final", a.messages),
        (a.transactions, "ack", a.messages),
        (a.dialogs, "call", a.calls),
        (a.calls, "transaction_id", a.transactions),
        (a.calls, "answered_dialog", a.dialogs),
        (a.calls, "bye", a.messages),
        (a.subscriptions, "dialog_id", a.dialogs),
        (a.subscriptions, "forked_from", a.subscriptions),
        (a.notifications, "subscription_id", a.subscriptions),
        (a.notifications, "transaction_id", a.transactions),
        (a.notifications, "final", a.messages),
        (a.notifications, "document", a.reginfo),
        (a.reginfo, "subscription_id", a.subscriptions),
    )
    for table, column, target in refs:
        assert _ids(table[column]) <= set(target.index), column
    lists = (
        (a.dialogs, "transactions", a.transactions),
        (a.dialogs, "creating_transactions", a.transactions),
        (a.calls, "attempts", a.transactions),
        (a.calls, "dialogs", a.dialogs),
        (a.subscriptions, "transactions", a.transactions),
        (a.registrations, "transactions", a.transactions),
    )
    for table, column, target in lists:
        for members in table[column]:
            assert set(members) <= set(target.index), column
    for table in (a.dialogs, a.calls, a.subscriptions, a.registrations):
        for members in table["messages"]:
            assert set(members) <= set(a.messages.index)
    # A NOTIFY row is indexed by its message; a document by its NOTIFY.
    assert set(a.notifications.index) <= set(a.messages.index)
    assert (a.messages.loc[a.notifications.index, "method"] == "NOTIFY").all()
    assert set(a.reginfo.index) <= set(a.notifications.index)


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_times_agree_with_their_messages(capture: str) -> None:
    """A time column that names a message's time equals that message's ``time``."""
    a = sample(capture)
    time = a.messages["time"]
    t = a.transactions
    for column, message in (("request_time", "request"), ("final_time", "final")):
        pairs = t[[column, message]].dropna()
        assert pairs[column].tolist() == time[pairs[message].astype("int64")].tolist(), column
    assert a.notifications["time"].tolist() == time[a.notifications.index].tolist()
    assert a.reginfo["time"].tolist() == time[a.reginfo.index].tolist()


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_subscriptions_count_their_notifications(capture: str) -> None:
    a = sample(capture)
    per_sub = a.notifications.groupby("subscription_id").size()
    for sid, notifies in a.subscriptions["notifies"].items():
        assert per_sub.get(sid, 0) == notifies


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_findings_point_at_messages_and_their_frames(capture: str) -> None:
    a = sample(capture)
    m, f = a.messages, a.findings
    assert len(f) == len(a.finding_records)
    for messages, frames, first in zip(f["messages"], f["frames"], f["first_frame"], strict=True):
        assert set(messages) <= set(m.index)
        assert frames == sorted({x for i in messages for x in m.at[i, "frames"]})
        assert first == (frames[0] if frames else 0)


def test_findings_explode_onto_messages() -> None:
    a = sample("welcome-notice.pcap")
    exploded = a.findings[["rule", "messages"]].explode("messages")
    joined = exploded.join(a.messages[["frame"]], on="messages")
    assert len(joined) == sum(len(ms) for ms in a.findings["messages"])
    assert joined["frame"].notna().all()


# -- public names and methods -------------------------------------------------------


@pytest.mark.parametrize("name", analyzer.__all__)
def test_public_names_exist_with_docstrings(name: str) -> None:
    obj = getattr(analyzer, name)
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else obj.__doc__
    assert isinstance(doc, str) and doc.strip(), f"analyzer.{name} has no docstring"
    # A dataclass without a docstring gets its signature as one.
    assert not doc.startswith(f"{name}("), f"analyzer.{name} has no docstring"


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_message_returns_the_raw_text(capture: str) -> None:
    a = sample(capture)
    for i, row in a.messages.iterrows():
        text = a.message(int(i))
        first = text.split("\r\n", 1)[0].split()
        if row["kind"] == "request":
            assert first == [row["method"], row["request_uri"], "SIP/2.0"]
        else:
            assert first[:2] == ["SIP/2.0", str(row["status"])]
        assert text.encode("utf-8") == a.sip_messages[int(i)].raw


# -- notebook display -------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def _hostile_capture(path: Path) -> None:
    """An INVITE and its 486 carrying HTML where captured text goes.

    The From display name and the reason phrase are shown by ladders; the
    Max-Forwards value is quoted by a finding (HDR-8), which the notebook
    summary lists.
    """
    invite = sip_bytes(
        f"""
        INVITE sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKhtml1
        Max-Forwards: {SCRIPT}
        From: "{SCRIPT}" <sip:alice@example.com>;tag=a1
        To: "<b>Bob</b>" <sip:bob@example.com>
        Call-ID: html@example.com
        CSeq: 1 INVITE
        Contact: <sip:alice@10.0.0.1>
        """
    )
    busy = sip_bytes(
        f"""
        SIP/2.0 486 {SCRIPT}
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKhtml1
        From: "{SCRIPT}" <sip:alice@example.com>;tag=a1
        To: "<b>Bob</b>" <sip:bob@example.com>;tag=b1
        Call-ID: html@example.com
        CSeq: 1 INVITE
        """
    )
    frames = [
        ether(MAC_B, MAC_A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp(5060, 5060, invite))),
        ether(MAC_A, MAC_B, 0x0800, ipv4("10.0.0.2", "10.0.0.1", 17, udp(5060, 5060, busy))),
    ]
    start = 1_709_283_600_000_000_000
    path.write_bytes(pcap_bytes([(start + i * 10_000_000, f) for i, f in enumerate(frames)]))


@pytest.fixture
def hostile(tmp_path: Path) -> Analysis:
    # The file name is shown too, and is the user's, not the capture's: escaped all the same.
    path = tmp_path / "<script>alert(2).pcap"
    _hostile_capture(path)
    a = analyze(path)
    assert len(a.sip_messages) == 2
    assert a.messages["reason"].iloc[1] == SCRIPT
    assert any(SCRIPT in f.message for f in a.finding_records)
    return a


def _repr_html(obj: object) -> str:
    method = getattr(obj, "_repr_html_", None)
    if method is None:
        pytest.skip(f"{type(obj).__name__} has no _repr_html_")
    html = method()
    assert isinstance(html, str)
    return html


@pytest.mark.parametrize("capture", JOIN_SAMPLES)
def test_repr_html_shows_the_counts(capture: str) -> None:
    a = sample(capture)
    html = _repr_html(a)
    assert capture in html
    cells = dict(re.findall(r"<tr><th>([^<]+)</th><td>(\d+)", html))
    c = a.correlation
    expected = {
        "SIP messages": len(a.sip_messages),
        "transactions": len(c.transactions),
        "dialogs": len(c.dialogs),
        "calls": len(c.calls),
        "subscriptions": len(c.subscriptions),
        "registrations": len(c.registrations),
        "diagnostics": len(a.diagnostic_records),
        "findings": len(a.finding_records),
    }
    assert {k: int(v) for k, v in cells.items()} == expected


def test_repr_html_escapes_captured_text(hostile: Analysis) -> None:
    html = _repr_html(hostile)
    assert "&lt;script&gt;alert(1)" in html  # the finding's sentence is shown...
    assert "&lt;script&gt;alert(2)" in html  # ...and the file name...
    assert "<script>alert" not in html  # ...escaped


def test_ladder_html_escapes_captured_text(hostile: Analysis) -> None:
    page = hostile.ladder_html()
    assert "alert(1)" in page
    assert "<script>alert" not in page
    assert "<b>Bob</b>" not in page


def test_ladder_repr_html_draws_every_arrow_escaped(hostile: Analysis) -> None:
    ladder = hostile.ladder_model()
    html = _repr_html(ladder)
    assert len(re.findall(r'<g class="arrow (?:request|response)', html)) == len(ladder.arrows)
    assert "486 &lt;script&gt;alert(1)&lt;/script&gt;" in html  # the reason phrase...
    assert "<script>alert" not in html  # ...escaped, as everything else


def test_ladder_repr_html_of_a_sample() -> None:
    ladder = sample("basic-call.pcap").ladder_model(dialog=2)
    html = _repr_html(ladder)
    assert len(ladder.arrows) == 7
    assert len(re.findall(r'<g class="arrow (?:request|response)', html)) == 7
    assert "180 Ringing" in html
