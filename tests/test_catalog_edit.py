"""catalog.update_entries: the review page's writes change only the edited entries, byte for byte."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from kbtrans import catalog
from kbtrans.errors import CatalogConflict

PO = '''\ufeff# A translator's header comment
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: en\\n"

#. paragraph
#: content/a.md:3
#, fuzzy, md-text
#| msgid "Старый текст"
msgid "Новый текст"
msgstr "Machine text"

# keep me
#, md-text
msgid "Длинный "
"перенос"
msgstr "Long "
"wrap"

#, fuzzy
msgid "Третий"
msgstr "Third"

#~ msgid "Удалено"
#~ msgstr "Removed"
'''


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_only_the_edited_entry_changes(tmp_path: Path, eol: str) -> None:
    po = tmp_path / "a.po"
    po.write_bytes((PO if eol == "\r\n" else PO.lstrip("\ufeff")).replace("\n", eol).encode("utf-8"))
    before = po.read_bytes()
    _, states = catalog.entry_states(po)
    first = states[0]
    digest, written = catalog.update_entries(po, [catalog.Edit(first.msgid, msgstr="Reviewed text", fuzzy=False,
                                                               expect=first)])
    after = po.read_bytes()
    assert digest == catalog.content_hash(after)
    assert written[0].msgstr == "Reviewed text" and not written[0].fuzzy and written[0].previous_msgid is None
    old, new = before.decode().split(eol), after.decode().split(eol)
    changed = sorted(x for x in difflib.unified_diff(old, new, n=0, lineterm="")
                     if x[:1] in "+-" and x[:3] not in ("+++", "---"))
    # the entry's flag line loses fuzzy, its #| line goes, its msgstr changes; nothing else moves
    assert changed == sorted(["-#, fuzzy, md-text", '-#| msgid "Старый текст"', '-msgstr "Machine text"',
                              "+#, md-text", '+msgstr "Reviewed text"']), changed
    assert after.startswith(b"\xef\xbb\xbf") == (eol == "\r\n")
    assert after.endswith(f'#~ msgstr "Removed"{eol}'.encode())
    if shutil.which("msgfmt") and eol == "\n":  # GNU msgfmt reads neither a BOM nor CRLF
        subprocess.run(["msgfmt", "-c", "-o", "/dev/null", str(po)], check=True)


def test_a_changed_entry_is_a_conflict_and_nothing_is_written(tmp_path: Path) -> None:
    po = tmp_path / "a.po"
    po.write_text(PO, encoding="utf-8")
    _, states = catalog.entry_states(po)
    po.write_text(PO.replace('msgstr "Third"', 'msgstr "Changed elsewhere"'), encoding="utf-8")
    on_disk = po.read_bytes()
    with pytest.raises(CatalogConflict, match="changed on disk") as info:
        catalog.update_entries(po, [catalog.Edit(states[2].msgid, msgstr="Mine", expect=states[2])])
    assert isinstance(info.value.current, catalog.EntryState) and info.value.current.msgstr == "Changed elsewhere"
    assert po.read_bytes() == on_disk
