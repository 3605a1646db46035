"""Task files as people have them: numbers as choices, indices and letters, byte-order marks, CRLF, blank lines,
other encodings, spreadsheet exports, 26 choices, empty strings. Every file is written by the test."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from cotlens.tasks import load_task
from cotlens.tasks.answers import resolve_answer
from cotlens.tasks.files import read_text, split_lines
from cotlens.types import CotlensError

NUMS = ["8", "15", "10", "35"]


def write_jsonl(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes((newline.join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode(encoding))
    return path


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def row(sid: str, answer: Any, choices: list[Any] | None = None) -> dict[str, Any]:
    return {"id": sid, "question": f"question {sid}?", "choices": NUMS if choices is None else choices,
            "answer": answer}


# -- the rules, value by value ---------------------------------------------------------------------------------

@pytest.mark.parametrize("position", range(4))
def test_numeric_text_answer_is_the_choice_at_every_position(tmp_path: Path, position: int) -> None:
    """The issue's case: "answer": "15" with choices 8, 15, 10, 35 is (B), not index 15; at every position."""
    choices = NUMS[position:] + NUMS[:position]
    target = choices.index("15")
    for fmt in ("jsonl", "csv"):
        if fmt == "jsonl":
            p = write_jsonl(tmp_path / "t.jsonl", [row("a", "15", choices)])
        else:
            p = write_csv(tmp_path / "t.csv", [["id", "question", "choices", "answer"],
                                              ["a", "q", "|".join(choices), "15"]])
        notes: list[str] = []
        [s] = load_task(str(p), notes=notes)
        assert s.answer == target and s.choices[s.answer] == "15", fmt
        assert notes == []


def test_a_number_that_is_no_choice_is_refused_not_read_as_an_index(tmp_path: Path) -> None:
    """"7" with a choice "7" elsewhere is that choice; "1" with numeric choices none of which is 1 is an error,
    never silently index 1."""
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "7", ["8", "15", "7", "35"])])
    assert load_task(str(p))[0].answer == 2
    p = write_jsonl(tmp_path / "t.jsonl", [row("ok", "8"), row("b", "1")])
    with pytest.raises(CotlensError, match=r"t.jsonl:2: field 'answer': '1' is not one of the choices; they are "
                                           r"numbers"):
        load_task(str(p))


def test_integer_is_a_zero_based_index(tmp_path: Path) -> None:
    notes: list[str] = []
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", 0), row("b", 3), row("c", 1, ["Paris", "Rome"])])
    assert [s.answer for s in load_task(str(p), notes=notes)] == [0, 3, 1]
    assert notes == []
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", 15)])  # the error, now with what to write instead
    with pytest.raises(CotlensError, match=r"index 15 is out of range for 4 choices \(0-3\); 15 is the text of "
                                           r"choice \(B\) '15': write it as the string \"15\" or as the letter B"):
        load_task(str(p))


def test_integer_that_is_also_another_choices_text_is_an_index_with_a_note(tmp_path: Path) -> None:
    notes: list[str] = []
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", 2, ["1", "2", "3", "4"])])
    assert load_task(str(p), notes=notes)[0].answer == 2
    assert len(notes) == 1 and notes[0].startswith(f"{p}:1: field 'answer': 2 read as the 0-based index of choice "
                                                   "(C) '3', not as the text of choice (B) '2'")


def test_integer_among_numeric_json_choices_is_ambiguous(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", 2, [1, 2, 3, 4])])
    with pytest.raises(CotlensError, match=r"t.jsonl:1: field 'answer': 2 is ambiguous: .* write the letter "
                                           r"\(C or B\)"):
        load_task(str(p))
    tens = [10, 20, 30, 40, 50, 60, 70, 80]
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "B", [1, 2, 3, 4]), row("b", 7, tens), row("c", "70", tens)])
    s = load_task(str(p))  # a letter settles it; 7 is no choice's value, so it is index 7; "70" is the text
    assert s[0].answer == 1 and s[0].choices == ("1", "2", "3", "4")
    assert s[1].answer == 7 and s[2].answer == 6
    with pytest.raises(CotlensError, match=r"7 is ambiguous: .* index of choice \(H\) '8' and the value of choice "
                                           r"\(G\) '7'"):
        load_task(str(write_jsonl(tmp_path / "u.jsonl", [row("b", 7, [1, 2, 3, 4, 5, 6, 7, 8])])))


def test_letters_and_a_choice_that_is_a_letter(tmp_path: Path) -> None:
    notes: list[str] = []
    rows = [row("a", "C"), row("b", "c"), row("c", "A", ["B", "A", "C"]), row("d", "B", ["A", "B", "x"]),
            row("e", "b", ["no", "yes"])]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    assert [s.answer for s in load_task(str(p), notes=notes)] == [2, 2, 1, 1, 1]
    # "A" is choice B's text: the text wins, and the note says which rule won
    assert notes == [f"{p}:3: field 'answer': 'A' read as the text of choice (B) 'A', not as the letter A (a "
                     "choice's text comes first)"]
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "E")])
    with pytest.raises(CotlensError, match=r"letter E but there are only 4 choices \(A-D\)"):
        load_task(str(p))


def test_numbers_equal_as_numbers_with_a_note(tmp_path: Path) -> None:
    notes: list[str] = []
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "15", ["8", "15.0", "10"]), row("b", "1000", ["1,000", "2,000"]),
                                           row("c", 2.5, ["1.5", "2.5"]), row("d", "15", ["15", "15.0"])])
    assert [s.answer for s in load_task(str(p), notes=notes)] == [1, 0, 1, 0]
    assert [n.split(": field 'answer': ")[1] for n in notes] == [
        "'15' read as choice (B) '15.0', equal as a number", "'1000' read as choice (A) '1,000', equal as a number"]
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "15", ["15.0", "15.00", "3"])])
    with pytest.raises(CotlensError, match=r"'15' equals 2 choices as a number \(A, B\)"):
        load_task(str(p))


def test_digits_are_an_index_only_when_no_choice_is_a_number(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "t.csv", [["id", "question", "choices", "answer"], ["a", "Capital?", "Paris|Rome", "1"],
                                       ["b", "q", "[\"x\", \"y\", \"z\"]", "0"]])
    assert [s.answer for s in load_task(str(p))] == [1, 0]
    p = write_csv(tmp_path / "t.csv", [["id", "question", "choices", "answer"], ["a", "q", "Paris|Rome", "2"]])
    with pytest.raises(CotlensError, match=r"t.csv:2: field 'answer': index '2' is out of range for 2 choices"):
        load_task(str(p))


@pytest.mark.parametrize("value,why", [
    ("", "field 'answer': empty"),
    ("  ", "field 'answer': empty"),
    (None, "field 'answer': missing"),
    (True, "expected a letter"),
    (["B"], "got a list"),
    ("paris", "differs only in case from choice (A) 'Paris'"),
    ("Lyon", "'Lyon' is not a choice's text, a letter A-B or a 0-based index"),
    (1.5, "matches no choice (none is a number)"),
])
def test_values_no_rule_settles_are_refused(tmp_path: Path, value: Any, why: str) -> None:
    p = write_jsonl(tmp_path / "t.jsonl", [row("ok", "A", ["Paris", "Rome"]), row("x", value, ["Paris", "Rome"])])
    with pytest.raises(CotlensError) as e:
        load_task(str(p))
    assert str(e.value).startswith(f"{p}:2: field '") and why in str(e.value), str(e.value)


def test_repeated_choice_text_is_refused(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "t.jsonl", [row("a", "5", ["5", "6", "5"])])
    with pytest.raises(CotlensError, match=r"'5' is the text of 2 choices \(A, C\)"):
        load_task(str(p))
    assert load_task(str(write_jsonl(tmp_path / "u.jsonl", [row("a", "B", ["5", "6", "5"])])))[0].answer == 1


def test_unicode_normalisation_and_spaces() -> None:
    assert resolve_answer(" caf\u0065\u0301 ", ("the", "caf\u00e9")) == (1, "")  # NFD answer, NFC choice


# -- the files: encodings, line ends, spreadsheets --------------------------------------------------------------

def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    rows = [row("a", "15"), row("b", "B"), row("c", 0)]
    text = "\r\n\r\n".join(json.dumps(r) for r in rows) + "\r\n\r\n"
    p = tmp_path / "bom.jsonl"
    p.write_bytes(codecs.BOM_UTF8 + text.encode())
    assert [(s.id, s.answer) for s in load_task(str(p))] == [("a", 1), ("b", 1), ("c", 0)]
    c = write_csv(tmp_path / "bom.csv", [["id", "question", "choices", "answer"], ["a", "q", "8|15", "15"], [],
                                        ["b", "q", "8|15", "A"]])
    c.write_bytes(codecs.BOM_UTF8 + c.read_bytes())
    assert [(s.id, s.answer) for s in load_task(str(c))] == [("a", 1), ("b", 0)]


def test_utf16_with_its_mark_is_read(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "u16.jsonl", [row("a", "15"), row("b", "Déjà", ["Déjà", "vu"])], encoding="utf-16")
    assert [s.answer for s in load_task(str(p))] == [1, 0]


def test_latin1_is_refused_with_line_and_byte_offset(tmp_path: Path) -> None:
    p = tmp_path / "latin1.jsonl"
    first = json.dumps(row("a", "15")) + "\n"
    second = json.dumps(row("b", "A", ["café", "thé"]), ensure_ascii=False) + "\n"
    p.write_bytes(first.encode("latin-1") + second.encode("latin-1"))
    offset = len(first) + second.index("é")
    with pytest.raises(CotlensError) as e:
        load_task(str(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}:2: not UTF-8 text (byte 0xE9 at byte offset {offset}, column "), msg
    assert "iconv -f latin1 -t utf-8" in msg and "\n" not in msg
    c = tmp_path / "latin1.csv"
    c.write_bytes("id,question,choices,answer\r\na,Où?,ici|là,A\r\n".encode("cp1252"))
    with pytest.raises(CotlensError, match=r"latin1.csv:2: not UTF-8 text \(byte 0xF9"):
        load_task(str(c))


def test_a_workbook_is_named_as_such(tmp_path: Path) -> None:
    p = tmp_path / "sheet.csv"
    p.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(CotlensError, match=r"sheet.csv: not a text task file: a zip archive \(an .xlsx"):
        load_task(str(p))


def test_only_line_ends_split_lines(tmp_path: Path) -> None:
    """A JSON string may hold U+2028, U+0085 or a form feed unescaped; str.splitlines would cut the line there."""
    q = "first\u2028second\x85third\x0cfourth"
    p = write_jsonl(tmp_path / "t.jsonl", [{"id": "a", "question": q, "choices": ["x", "y"], "answer": "x"}])
    assert load_task(str(p))[0].question == q
    assert split_lines("a\r\nb\rc\n\nd\n") == ["a", "b", "c", "", "d"]


def test_spreadsheet_exports(tmp_path: Path) -> None:
    """Semicolons, capitalised headers, one column per choice, extra columns kept, empty rows below the data."""
    p = write_csv(tmp_path / "excel.csv", [["ID", " Question ", "A", "B", "C", "D", "Answer", "Subject"],
                                          ["1", "7+8?", "8", "15", "10", "", "15", "sums"],
                                          ["2", "Two?", "2", "3", "", "", "A", "sums"],
                                          ["", "", "", "", "", "", "", ""], ["", "", "", "", "", "", "", ""]],
                  delimiter=";")
    s = load_task(str(p))
    assert [(x.id, x.choices, x.answer, x.metadata) for x in s] == [
        ("1", ("8", "15", "10"), 1, {"subject": "sums"}), ("2", ("2", "3"), 0, {"subject": "sums"})]
    t = write_csv(tmp_path / "t.tsv", [["question", "choices", "answer"], ["q, with a comma", "a|b", "b"]],
                  delimiter="\t")
    [x] = load_task(str(t))
    assert (x.id, x.question, x.answer) == ("2", "q, with a comma", 1)  # no id column: numbered by line


def test_csv_errors_name_line_and_field(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "t.csv", [["id", "question", "answer"], ["a", "q", "A"]])
    [free] = load_task(str(p))  # no choices column: a free-form answer
    assert free.free is not None and free.free.target == "A" and free.choices == ()
    p = write_csv(tmp_path / "t.csv", [["id", "question", "choices"], ["a", "q", "x|y"]])
    with pytest.raises(CotlensError, match=r"t.csv:1: header lacks column\(s\) answer; it has id, question, "
                                           r"choices"):
        load_task(str(p))
    p = write_csv(tmp_path / "t.csv", [["id", "question", "choices", "answer"], ["a", "q", "x|y", "A", "extra"]])
    with pytest.raises(CotlensError, match=r"t.csv:2: field 'row': 5 values but the header has 4 columns"):
        load_task(str(p))
    # a quoted field over three lines: the next row's line is its own
    p.write_text('id,question,choices,answer\r\na,"one\r\ntwo\r\nthree",x|y,A\r\nb,q,x|y,Q\r\n')
    with pytest.raises(CotlensError, match=r"t.csv:5: field 'answer'"):
        load_task(str(p))
    p.write_text('id,question,choices,answer\r\na,q,x|y,A\r\na,q,x|y,A\r\n')
    with pytest.raises(CotlensError, match=r"t.csv:3: field 'id': duplicate id 'a' \(first on line 2\)"):
        load_task(str(p))


def test_very_long_question_and_26_choices(tmp_path: Path) -> None:
    long_q = "word " * 60_000  # 300 KB: past the csv module's default field limit of 128 KiB
    many = [f"option {i}" for i in range(26)]
    p = write_csv(tmp_path / "t.csv", [["id", "question", "choices", "answer"], ["a", long_q, json.dumps(many), "Z"]])
    [s] = load_task(str(p))
    assert len(s.question) == len(long_q.strip()) and s.answer == 25 and s.letters[-1] == "Z"
    j = write_jsonl(tmp_path / "t.jsonl", [row("a", "option 25", many), row("b", "A", [*many, "one too many"])])
    with pytest.raises(CotlensError, match=r"t.jsonl:2: field 'choices': expected 2 to 26 choices, got 27"):
        load_task(str(j))


@pytest.mark.parametrize("bad,why", [
    ({"id": ""}, "field 'id': empty"),
    ({"question": "   "}, "field 'question': empty"),
    ({"choices": ["a", ""]}, "field 'choices': choice B is empty"),
    ({"choices": ["a", None]}, "field 'choices': choice 2 is null"),
    ({"id": 1.5}, "field 'id': expected a string or integer"),
])
def test_empty_strings_and_wrong_types(tmp_path: Path, bad: dict[str, Any], why: str) -> None:
    p = write_jsonl(tmp_path / "t.jsonl", [row("ok", "A", ["a", "b"]), {**row("x", "A", ["a", "b"]), **bad}])
    with pytest.raises(CotlensError, match=f"t.jsonl:2: {why}"):
        load_task(str(p))


def test_a_json_array_file_is_named_as_such(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps([row("a", "A")], indent=1))
    with pytest.raises(CotlensError, match=r"t.jsonl:1: this looks like one JSON document spread over lines"):
        load_task(str(p))


def test_a_mix_of_everything(tmp_path: Path) -> None:
    """One file with a BOM, CRLF, blank lines, numeric choices, indices, letters, a letter choice and no ids."""
    rows = [row("n", "35"), row("i", 2), row("l", "d"), {"question": "Which?", "choices": ["B", "A"], "answer": "A"},
            row("x", "10", ["10", "B", "C"])]
    text = "\r\n".join(json.dumps(r) for r in rows[:2]) + "\r\n\r\n" + "\r\n".join(json.dumps(r) for r in rows[2:])
    p = tmp_path / "mix.jsonl"
    p.write_bytes(codecs.BOM_UTF8 + text.encode())
    notes: list[str] = []
    s = load_task(str(p), notes=notes)
    assert [(x.id, x.answer) for x in s] == [("n", 3), ("i", 2), ("l", 3), ("5", 1), ("x", 0)]
    assert len(notes) == 1 and notes[0].startswith(f"{p}:5: field 'answer': 'A' read as the text of choice (B)")
    assert load_task(str(p), n=2, notes=(few := [])) and few == []  # notes only of the samples used


def test_datasets_dir_types_and_rows(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([
        {"question": "7+8?", "choices": NUMS, "answer": "15"},
        {"question": "Two?", "choices": NUMS, "answer": "1"},
    ])
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(CotlensError, match=r"d row 2: field 'answer': '1' is not one of the choices"):
        load_task(str(tmp_path / "d"))  # the column is text: "1" with numeric choices elsewhere is not an index
    datasets.Dataset.from_list([{"question": "7+8?", "choices": NUMS, "answer": 1}]).save_to_disk(str(tmp_path / "e"))
    [s] = load_task(str(tmp_path / "e"))
    assert (s.id, s.answer) == ("1", 1)
    with pytest.raises(CotlensError, match=r"has no splits"):
        load_task(str(tmp_path / "e"), split="test")
    datasets.Dataset.from_list([{"q": "x", "choices": NUMS, "answer": 1}]).save_to_disk(str(tmp_path / "f"))
    with pytest.raises(CotlensError, match=r"f: no column\(s\) question; it has q, choices, answer"):
        load_task(str(tmp_path / "f"))
    (tmp_path / "files").mkdir()
    write_jsonl(tmp_path / "files" / "test.jsonl", [row("a", "A")])
    with pytest.raises(CotlensError, match=r"not a dataset saved with datasets' save_to_disk .*to use a file, name "
                                           r"it: .*test.jsonl"):
        load_task(str(tmp_path / "files"))


def test_read_text_errors(tmp_path: Path) -> None:
    with pytest.raises(CotlensError, match="is a directory"):
        read_text(tmp_path, "hint file")
    with pytest.raises(CotlensError, match="cannot read hint file"):
        read_text(tmp_path / "missing.jsonl", "hint file")

