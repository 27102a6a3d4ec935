// kbtrans review: the note view's behaviour. No inline script: the page's data comes from a JSON block,
// every value is written with textContent (never innerHTML).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const dataEl = document.getElementById("page-data");
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent);
  const entries = data.entries;
  let ready = false;  // the page's editors have been sized (then each is sized as it changes)

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
    });
    let json = {};
    try { json = await r.json(); } catch (e) { json = {error: await r.text()}; }
    return {status: r.status, json: json};
  }

  function section(i) { return document.getElementById("entry-" + i); }

  function showFindings(sec, findings) {
    const ul = sec.querySelector(".findings");
    ul.replaceChildren();
    for (const f of findings) {
      const li = el("li", f.severity, f.severity + " " + f.code + ": " + f.message);
      if (f.hint) li.title = f.hint;
      ul.appendChild(li);
    }
  }

  // The editor is a transparent textarea over a backdrop holding the same text in the same font, its
  // placeables wrapped in <mark>: the reviewer sees them highlighted where they type.
  function showMarks(sec, text, places) {
    const box = sec.querySelector(".highlights");
    box.replaceChildren();
    let at = 0;
    for (const p of places) {
      if (p.start < at || p.end > text.length) continue;
      if (p.start > at) box.appendChild(document.createTextNode(text.slice(at, p.start)));
      const m = el("mark", "placeable", text.slice(p.start, p.end));
      m.dataset.kind = p.kind;
      box.appendChild(m);
      at = p.end;
    }
    // a trailing newline needs a character after it to take its line in the backdrop
    box.appendChild(document.createTextNode(text.slice(at) + (text.endsWith("\n") ? " " : "")));
    if (ready) sync(sec);
  }

  function sync(sec) {
    const ed = sec.querySelector(".editor");
    ed.style.height = "auto";
    ed.style.height = (ed.scrollHeight + 2) + "px";
    sec.querySelector(".backdrop").scrollTop = ed.scrollTop;
  }

  // While the server's scan is on its way: the source's placeables found in the text as typed.
  function guessPlaces(i, text) {
    const out = [];
    const texts = [...new Set(entries[i].source_placeables.map(function (p) { return p.text; }))];
    texts.sort(function (a, b) { return b.length - a.length; });
    for (const t of texts) {
      let k = text.indexOf(t);
      while (t && k >= 0) {
        if (!out.some(function (p) { return k < p.end && k + t.length > p.start; })) {
          out.push({kind: "placeable", text: t, start: k, end: k + t.length});
        }
        k = text.indexOf(t, k + t.length);
      }
    }
    out.sort(function (a, b) { return a.start - b.start; });
    return out;
  }

  function setBadge(sec, category) {
    sec.className = "entry " + category;
    const b = sec.querySelector(".badge");
    b.className = "badge " + category;
    b.textContent = category;
  }

  function message(sec, text, cls) {
    const m = sec.querySelector(".message");
    m.className = "message " + (cls || "");
    m.textContent = text;
  }

  const timers = {};
  function liveCheck(i) {
    clearTimeout(timers[i]);
    timers[i] = setTimeout(async function () {
      const sec = section(i), e = entries[i];
      const text = sec.querySelector(".editor").value;
      const r = await post("/api/check", {path: data.note, lang: data.lang, msgid: e.msgid, msgstr: text});
      if (r.status === 200 && sec.querySelector(".editor").value === text) {
        showFindings(sec, r.json.findings);
        showMarks(sec, text, r.json.placeables);
        sec.dataset.checked = text;
      }
    }, 250);
  }

  function showConflict(sec, r) {
    const box = sec.querySelector(".conflict");
    box.replaceChildren();
    box.appendChild(el("p", "error", r.json.error));
    const theirs = r.json.theirs;
    box.appendChild(el("h4", "", "On disk now"));
    box.appendChild(el("pre", "theirs", theirs ? theirs.msgstr : "(the entry is gone)"));
    box.appendChild(el("h4", "", "Yours (kept in the editor)"));
    box.appendChild(el("pre", "yours", r.json.yours || ""));
    box.hidden = false;
  }

  async function act(i, action) {
    const sec = section(i), e = entries[i];
    const text = action === "comment" ? sec.querySelector(".tcomment").value : sec.querySelector(".editor").value;
    message(sec, action + "…");
    const r = await post("/api/entry", {path: data.note, lang: data.lang, action: action, msgid: e.msgid,
      msgctxt: e.msgctxt, version: e.version, text: text, index: i});
    if (r.status === 200) {
      const n = r.json.entry;
      n.index = i;
      entries[i] = n;
      data.hash = r.json.hash;
      setBadge(sec, n.category);
      if (action === "revert") sec.querySelector(".editor").value = n.msgstr;
      if (action !== "comment") showMarks(sec, n.msgstr, n.placeables);
      showFindings(sec, n.findings);
      sec.querySelector(".conflict").hidden = true;
      message(sec, {save: "saved", accept: "accepted", revert: "reverted", comment: "comment saved"}[action], "ok");
    } else if (r.status === 409 && r.json.conflict) {
      showConflict(sec, r);
      message(sec, "not saved: conflict", "error");
    } else {
      if (r.json.findings) showFindings(sec, r.json.findings);
      message(sec, r.json.error || ("error " + r.status), "error");
    }
  }

  function current() {
    const a = document.activeElement;
    const sec = a && a.closest ? a.closest(".entry") : null;
    return sec ? Number(sec.dataset.index) : -1;
  }

  function focus(i) {
    const ed = section(i).querySelector(".editor");
    ed.focus();
    section(i).scrollIntoView({block: "center"});
  }

  function move(step) {
    let i = current();
    for (let k = 0; k < entries.length; k++) {
      i = (i + step + entries.length) % entries.length;
      if (entries[i].category !== "reviewed") { focus(i); return; }
    }
  }

  function insertText(i, t) {
    const ed = section(i).querySelector(".editor");
    const s = ed.selectionStart, e = ed.selectionEnd;
    ed.value = ed.value.slice(0, s) + t + ed.value.slice(e);
    ed.selectionStart = ed.selectionEnd = s + t.length;
    ed.focus();
    typed(i);
  }

  // a tag is one only after a space (or at the start): one is put before it where the text has none
  function insertPlace(i, p) {
    const ed = section(i).querySelector(".editor");
    const before = ed.value.slice(0, ed.selectionStart);
    insertText(i, (p.kind === "tag" && before && !/\s$/.test(before) ? " " : "") + p.text);
  }

  function insertPlaceable(i, n) {
    const p = entries[i].source_placeables[n];
    if (p) insertPlace(i, p);
  }

  function count(text, t) {
    let n = 0, k = text.indexOf(t);
    while (t && k >= 0) { n++; k = text.indexOf(t, k + t.length); }
    return n;
  }

  // the first placeable of the source that the translation has fewer times than the source
  function insertMissing(i) {
    const text = section(i).querySelector(".editor").value;
    const need = {};
    for (const p of entries[i].source_placeables) {
      need[p.text] = (need[p.text] || 0) + 1;
      if (count(text, p.text) < need[p.text]) { insertPlace(i, p); return; }
    }
  }

  function typed(i) {
    const sec = section(i);
    const text = sec.querySelector(".editor").value;
    showMarks(sec, text, guessPlaces(i, text));
    liveCheck(i);
  }

  document.querySelectorAll(".entry").forEach(function (sec) {
    const i = Number(sec.dataset.index);
    const e = entries[i];
    const ed = sec.querySelector(".editor");
    showMarks(sec, e.msgstr, e.placeables);
    ed.addEventListener("input", function () { typed(i); });
    ed.addEventListener("scroll", function () { sync(sec); });
    for (const action of ["save", "accept", "revert", "comment"]) {
      sec.querySelector("." + action).addEventListener("click", function () { act(i, action); });
    }
    sec.querySelectorAll("button.place").forEach(function (b) {
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });  // keep the editor's cursor
      b.addEventListener("click", function () { insertPlaceable(i, Number(b.dataset.n)); });
    });
  });
  // every editor as tall as its text: heights written, then read, then written, one layout for the page
  function sizeAll() {
    const eds = [...document.querySelectorAll(".entry .editor")];
    for (const ed of eds) ed.style.height = "auto";
    const hs = eds.map(function (ed) { return ed.scrollHeight; });
    eds.forEach(function (ed, k) { ed.style.height = (hs[k] + 2) + "px"; });
  }
  sizeAll();
  ready = true;
  document.documentElement.dataset.ready = "1";  // the note view is set up (tests and the bench wait for it)
  window.addEventListener("resize", sizeAll);

  document.addEventListener("keydown", function (ev) {
    const i = current();
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && i >= 0) {
      ev.preventDefault();
      act(i, ev.shiftKey ? "accept" : "save");
    } else if (ev.altKey && ev.key === "ArrowDown") {
      ev.preventDefault(); move(1);
    } else if (ev.altKey && ev.key === "ArrowUp") {
      ev.preventDefault(); move(-1);
    } else if (ev.altKey && ev.code === "KeyN" && data.next) {
      ev.preventDefault(); window.location.href = data.next;
    } else if (ev.altKey && /^Digit[1-9]$/.test(ev.code) && i >= 0) {
      ev.preventDefault(); insertPlaceable(i, Number(ev.code.slice(5)) - 1);
    } else if (ev.altKey && ev.code === "KeyP" && i >= 0) {
      ev.preventDefault(); insertMissing(i);
    }
  });

  const pb = document.getElementById("preview-button");
  if (pb) pb.addEventListener("click", async function () {
    const r = await fetch("/api/preview?" + new URLSearchParams({path: data.note, lang: data.lang}),
                          {credentials: "same-origin"});
    const json = await r.json();
    document.getElementById("preview").textContent = r.ok ? json.text : json.error;
  });
})();
