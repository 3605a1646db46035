"""A review page: a person reads items (CoTs, episodes), marks each yes or no, and saves the labels as JSONL.

The page is one static HTML file with no server: "Save labels" downloads a JSONL file with one line per marked
item, its key fields and the label field (true or false), which the command that wrote the page reads back
(``cotlens monitor --labels``, ``cotlens run --human-labels``). Every text shown is model output, escaped; the keys
travel in ``data-`` attributes as escaped JSON, never as code.

Which items: every item a judge flagged and, to measure specificity and sensitivity without bias, a seeded random
sample of the others of the same size (``pick``); the page says which is which.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from cotlens.figures import CSS
from cotlens.types import JsonObject


@dataclass(frozen=True)
class ReviewItem:
    key: JsonObject
    """The fields saved with the label, which name the item for the reader of the labels file."""
    title: str
    parts: tuple[tuple[str, str], ...]
    """(heading, text) shown in order: the prompt, the CoT, the action."""
    flagged: bool
    """Flagged by the judge (shown as such), or drawn from the others."""
    note: str = ""


def pick(items: Sequence[ReviewItem], seed: int = 0, extra: int | None = None) -> list[ReviewItem]:
    """Every flagged item, and a seeded random sample of the others as large as the flagged set (``extra`` to
    choose another size; at least 10 where there are that many)."""
    flagged = [x for x in items if x.flagged]
    others = [x for x in items if not x.flagged]
    k = min(len(others), extra if extra is not None else max(len(flagged), 10))
    chosen = random.Random(f"{seed}:review").sample(others, k)
    return flagged + chosen


_JS = """<script>
function saveLabels(){
  var lines=[];
  document.querySelectorAll('.item').forEach(function(el){
    var v=el.querySelector('input[type=radio]:checked');
    if(!v||v.value==='skip')return;
    var row=JSON.parse(el.dataset.key);row[document.body.dataset.field]=(v.value==='yes');
    lines.push(JSON.stringify(row));
  });
  var blob=new Blob([lines.join('\\n')+(lines.length?'\\n':'')],{type:'application/jsonl'});
  var a=document.createElement('a');a.href=URL.createObjectURL(blob);a.download=document.body.dataset.file;
  document.body.appendChild(a);a.click();a.remove();
  document.getElementById('saved').textContent=lines.length+' labels saved to '+document.body.dataset.file;
}
</script>"""


def review_page(title: str, question: str, field: str, filename: str, items: Sequence[ReviewItem],
                how_to_use: str) -> str:
    """The page: ``question`` asked of every item, answers saved under ``field`` to ``filename``."""
    blocks = []
    for i, it in enumerate(items):
        parts = "".join(f"<h4>{escape(h)}</h4><pre class='cot'>{escape(t or '(empty)')}</pre>" for h, t in it.parts)
        tag = "<span class='flag'>flagged</span>" if it.flagged else "<span class='muted'>sampled</span>"
        radios = "".join(f"<label><input type='radio' name='r{i}' value='{v}'{' checked' if v == 'skip' else ''}>"
                         f" {v}</label> " for v in ("yes", "no", "skip"))
        note = f"<p class='muted'>{escape(it.note)}</p>" if it.note else ""
        blocks.append(f"<div class='item' data-key='{escape(json.dumps(it.key))}'><h3>{escape(it.title)} {tag}</h3>"
                      f"{note}{parts}<p><b>{escape(question)}</b> {radios}</p></div>")
    style = (CSS + " pre.cot{white-space:pre-wrap;background:#f6f6f6;padding:6px;max-height:24em;overflow:auto}"
             " .item{border-top:1px solid #ccc;margin-top:1em} .flag{color:#b00;font-weight:bold}"
             " #bar{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ccc}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{style}</style>"
            f"{_JS}</head><body data-field='{escape(field)}' data-file='{escape(filename)}'><h1>{escape(title)}</h1>"
            f"<p>{escape(how_to_use)}</p><div id='bar'><button onclick='saveLabels()'>Save labels</button> "
            f"<span id='saved' class='muted'>{len(items)} items; unmarked ones (skip) are not saved</span></div>"
            + "".join(blocks) + "</body></html>")
