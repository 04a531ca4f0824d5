// correio webmail: the screens (sign-in, folders, message list, reader,
// composer) over the JMAP client.  Everything the server sends is put in
// the page as text (textContent), never as markup; HTML mail is shown
// only inside the sandboxed frame that sanitize.js prepares.

import { Jmap, JmapError } from "./jmap.js";
import { sanitizeHtml, textToNodes } from "./sanitize.js";
import { buildMessage, parseAddresses, formatAddress } from "./mime.js";

const PAGE = 50;
const LIST_PROPERTIES = ["threadId", "mailboxIds", "keywords", "from", "to", "subject",
                         "receivedAt", "preview", "hasAttachment", "size"];
const THREAD_PROPERTIES = ["mailboxIds", "keywords", "from", "to", "subject", "receivedAt"];
const READ_PROPERTIES = LIST_PROPERTIES.concat(["cc", "replyTo", "messageId", "references",
                                                "sentAt", "textBody", "htmlBody",
                                                "attachments", "bodyValues"]);

const $ = (id) => document.getElementById(id);
const jmap = new Jmap();
const state = {
  mailboxes: [],
  current: null,		// mailbox id, or null while searching
  search: "",
  position: 0,
  total: 0,
  ids: [],
  open: null,		// the email shown
  allowRemote: false,
  push: null,
  refreshing: false,
  again: false,
};

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function status(text) {
  $("status").textContent = text;
}

function fail(e) {
  console.error(e);
  if (e instanceof JmapError && e.status === 401) {
    showSignin("Your session has ended; sign in again.");
    return;
  }
  status(e.message || String(e));
}

function role(r) {
  return state.mailboxes.find((m) => m.role === r);
}

function who(addrs) {
  if (!addrs || !addrs.length) return "";
  return addrs.map((a) => a.name || a.email).join(", ");
}

function when(iso) {
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ?
    d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString();
}

// ---- sign-in ----

function showSignin(message = "") {
  if (state.push) state.push.close();
  state.push = null;
  $("main").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("signin-user").focus();
}

async function showMain() {
  $("signin").hidden = true;
  $("main").hidden = false;
  $("who").textContent = jmap.username;
  await loadMailboxes();
  const inbox = role("inbox") || state.mailboxes[0];
  await openMailbox(inbox ? inbox.id : null);
  state.push = jmap.push(() => refresh().catch(fail));
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  $("signin-button").disabled = true;
  try {
    await jmap.signIn($("signin-user").value.trim(), $("signin-pass").value);
    $("signin-pass").value = "";
    await showMain();
  } catch (e) {
    $("signin-error").textContent = e.message;
  } finally {
    $("signin-button").disabled = false;
  }
});

$("signout-button").addEventListener("click", async () => {
  await jmap.signOut().catch(() => {});
  showSignin("Signed out.");
});

// ---- folders ----

async function loadMailboxes() {
  const r = await jmap.call([["Mailbox/get", { ids: null }, "m"]]);
  state.mailboxes = r.m.list.sort((a, b) => a.sortOrder - b.sortOrder ||
                                            a.name.localeCompare(b.name));
  const list = $("folder-list");
  list.replaceChildren();
  for (const m of state.mailboxes) {
    const count = el("span", { class: "count" }, m.unreadEmails ? String(m.unreadEmails) : "");
    const b = el("button", { type: "button", "data-mailbox": m.id,
                             "data-role": m.role || "" }, el("span", {}, m.name), count);
    if (m.id === state.current && !state.search) b.classList.add("selected");
    b.addEventListener("click", () => openMailbox(m.id).catch(fail));
    list.append(el("li", {}, b));
  }
  const move = $("move-select");
  move.replaceChildren(el("option", { value: "" }, "Move to…"));
  for (const m of state.mailboxes) move.append(el("option", { value: m.id }, m.name));
}

async function openMailbox(id) {
  state.current = id;
  state.search = "";
  state.position = 0;
  $("search").value = "";
  closeReader();
  await loadMailboxes();
  await loadList();
}

// ---- message list ----

function filter() {
  if (state.search) return { text: state.search };
  return { inMailbox: state.current };
}

// One row per conversation: the newest email of each thread in the list
// stands for it, with the number of emails the thread has (in every
// mailbox, so replies filed in Sent count too).
async function loadList() {
  const r = await jmap.call([
    ["Email/query", { filter: filter(), sort: [{ property: "receivedAt", isAscending: false }],
                      collapseThreads: true, position: state.position, limit: PAGE,
                      calculateTotal: true }, "q"],
    ["Email/get", { "#ids": { resultOf: "q", name: "Email/query", path: "/ids" },
                    properties: LIST_PROPERTIES }, "g"],
    ["Thread/get", { "#ids": { resultOf: "g", name: "Email/get", path: "/list/*/threadId" } },
     "t"],
  ]);
  state.total = r.q.total;
  state.ids = r.q.ids;
  const byId = new Map(r.g.list.map((e) => [e.id, e]));
  const sizes = new Map(r.t.list.map((t) => [t.id, t.emailIds.length]));
  const list = $("message-list");
  list.replaceChildren();
  const box = state.mailboxes.find((m) => m.id === state.current);
  const sent = box && (box.role === "sent" || box.role === "drafts");
  for (const id of r.q.ids) {
    const e = byId.get(id);
    if (!e) continue;
    const row = el("button", { type: "button", class: "message", "data-email": e.id },
                   el("span", { class: "from" }, sent ? "To: " + who(e.to) : who(e.from),
                      (sizes.get(e.threadId) || 1) > 1 ?
                        el("span", { class: "thread-count",
                                     title: "messages in this conversation" },
                           String(sizes.get(e.threadId))) : ""),
                   el("span", { class: "subject" }, e.subject || "(no subject)"),
                   el("span", { class: "preview" }, e.preview || ""),
                   el("span", { class: "date" }, when(e.receivedAt)));
    if (!e.keywords.$seen) row.classList.add("unread");
    if (e.keywords.$flagged) row.classList.add("flagged");
    if (e.hasAttachment) row.classList.add("attachment");
    if (state.open === e.id) row.classList.add("selected");
    row.addEventListener("click", () => openEmail(e.id).catch(fail));
    list.append(el("li", {}, row));
  }
  $("list-title").textContent = state.search ? `Search: ${state.search}` :
    box ? box.name : "";
  const last = Math.min(state.position + r.q.ids.length, state.total);
  $("list-range").textContent = state.total ?
    `${state.position + 1}–${last} of ${state.total}` : "No messages";
  $("prev-page").disabled = state.position === 0;
  $("next-page").disabled = last >= state.total;
}

$("prev-page").addEventListener("click", () => {
  state.position = Math.max(0, state.position - PAGE);
  loadList().catch(fail);
});
$("next-page").addEventListener("click", () => {
  state.position += PAGE;
  loadList().catch(fail);
});

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("search").value.trim();
  if (!q) {
    openMailbox(state.current).catch(fail);
    return;
  }
  state.search = q;
  state.position = 0;
  closeReader();
  loadMailboxes().then(loadList).catch(fail);
});

// A change pushed by the server: folders and list again, one at a time.
async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  try {
    do {
      state.again = false;
      await loadMailboxes();
      await loadList();
    } while (state.again);
  } finally {
    state.refreshing = false;
  }
}

// ---- reading ----

function closeReader() {
  state.open = null;
  state.email = null;
  $("reader").hidden = true;
  $("thread-list").replaceChildren();
  $("reader-body").replaceChildren();
}

async function openEmail(id) {
  const r = await jmap.call([
    ["Email/get", { ids: [id], properties: READ_PROPERTIES, fetchHTMLBodyValues: true,
                    fetchTextBodyValues: true }, "g"],
    ["Thread/get", { "#ids": { resultOf: "g", name: "Email/get", path: "/list/*/threadId" } },
     "t"],
    ["Email/get", { "#ids": { resultOf: "t", name: "Thread/get", path: "/list/*/emailIds" },
                    properties: THREAD_PROPERTIES }, "m"],
  ]);
  const e = r.g.list[0];
  if (!e) {
    status("That message is gone.");
    return;
  }
  state.open = id;
  state.email = e;
  state.allowRemote = false;
  $("composer").hidden = true;
  $("reader").hidden = false;
  $("reader-subject").textContent = e.subject || "(no subject)";
  const dl = $("reader-headers");
  dl.replaceChildren();
  for (const [label, value] of [["From", e.from], ["To", e.to], ["Cc", e.cc]]) {
    if (!value || !value.length) continue;
    dl.append(el("dt", {}, label),
              el("dd", {}, value.map((a) => a.name ? `${a.name} <${a.email}>` : a.email)
                                .join(", ")));
  }
  dl.append(el("dt", {}, "Date"), el("dd", {}, new Date(e.sentAt || e.receivedAt).toLocaleString()));
  renderThread(id, r.t.list[0], r.m.list);
  $("flag-button").textContent = e.keywords.$flagged ? "Unflag" : "Flag";
  state.cidUrls = await inlineImages(e);
  renderBody();
  const list = $("attachment-list");
  list.replaceChildren();
  for (const a of e.attachments || []) {
    if (!a.blobId) continue;
    const name = a.name || "attachment";
    const link = el("a", { href: jmap.downloadUrl(a.blobId, name, "application/octet-stream"),
                           download: name, class: "attachment-link" },
                    `${name} (${Math.ceil(a.size / 1024)} KB)`);
    list.append(el("li", {}, link));
  }
  for (const row of document.querySelectorAll("#message-list .message"))
    row.classList.toggle("selected", row.dataset.email === id);
  if (!e.keywords.$seen)
    await setKeyword(id, "$seen", true);
}

// The conversation of the email shown, oldest first, when it has more
// than this one: each opens in the reader.
function renderThread(id, thread, emails) {
  const list = $("thread-list");
  list.replaceChildren();
  const byId = new Map(emails.map((m) => [m.id, m]));
  const ids = thread ? thread.emailIds.filter((t) => byId.has(t)) : [];
  list.hidden = ids.length < 2;
  if (list.hidden) return;
  list.append(el("li", { class: "thread-head" }, `Conversation: ${ids.length} messages`));
  for (const t of ids) {
    const m = byId.get(t);
    const box = state.mailboxes.find((b) => m.mailboxIds[b.id]);
    const item = el("button", { type: "button", class: "thread-item", "data-email": t },
                    el("span", { class: "from" }, who(m.from)),
                    el("span", { class: "folder" }, box ? box.name : ""),
                    el("span", { class: "date" }, when(m.receivedAt)));
    if (t === id) item.classList.add("selected");
    if (!m.keywords.$seen) item.classList.add("unread");
    item.addEventListener("click", () => openEmail(t).catch(fail));
    list.append(el("li", {}, item));
  }
}

// The images an HTML body names by Content-ID ("cid:"), as data: URLs:
// the frame has no origin of its own and cannot fetch them itself.
async function inlineImages(e) {
  const urls = new Map();
  if (!(e.htmlBody || []).some((p) => p.type === "text/html")) return urls;
  for (const a of e.attachments || []) {
    if (!a.cid || !a.blobId || !/^image\/(png|gif|jpeg|webp)$/i.test(a.type) ||
        a.size > 4 * 1024 * 1024)
      continue;
    try {
      const r = await fetch(jmap.downloadUrl(a.blobId, a.name || "image", a.type),
                            { credentials: "same-origin" });
      if (!r.ok) continue;
      const blob = new Blob([await r.arrayBuffer()], { type: a.type.toLowerCase() });
      urls.set(a.cid.replace(/^<|>$/g, ""), await new Promise((ok, no) => {
        const reader = new FileReader();
        reader.onload = () => ok(reader.result);
        reader.onerror = no;
        reader.readAsDataURL(blob);
      }));
    } catch (err) {
      console.warn("inline image", a.cid, err);
    }
  }
  return urls;
}

function renderBody() {
  const e = state.email;
  const body = $("reader-body");
  body.replaceChildren();
  const html = (e.htmlBody || []).filter((p) => p.type === "text/html");
  $("remote-bar").hidden = true;
  if (html.length) {
    const text = html.map((p) => (e.bodyValues[p.partId] || {}).value || "").join("\n");
    const clean = sanitizeHtml(text, { allowRemote: state.allowRemote, cidUrls: state.cidUrls });
    const frame = el("iframe", { class: "mail-frame", title: "Message" });
    // no allow-scripts, no allow-same-origin: the frame runs nothing and
    // reaches nothing of this page; links open in a new tab
    frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.srcdoc = clean.html;
    body.append(frame);
    $("remote-bar").hidden = clean.blocked === 0 || state.allowRemote;
  } else {
    const text = (e.textBody || []).map((p) => (e.bodyValues[p.partId] || {}).value || "")
      .join("\n");
    body.append(el("pre", { class: "mail-text" }, textToNodes(text)));
  }
}

$("remote-button").addEventListener("click", () => {
  state.allowRemote = true;
  renderBody();
});

async function setKeyword(id, keyword, on) {
  await jmap.call([["Email/set", { update: { [id]: { [`keywords/${keyword}`]: on || null } } },
                    "s"]]);
  await refresh();
}

$("flag-button").addEventListener("click", () => {
  const e = state.email;
  if (!e) return;
  e.keywords.$flagged = !e.keywords.$flagged;
  $("flag-button").textContent = e.keywords.$flagged ? "Unflag" : "Flag";
  setKeyword(e.id, "$flagged", e.keywords.$flagged).catch(fail);
});

$("unread-button").addEventListener("click", () => {
  if (state.email) setKeyword(state.email.id, "$seen", false).catch(fail);
});

async function moveTo(id, mailboxId) {
  const r = await jmap.call([["Email/set", { update: { [id]: { mailboxIds: { [mailboxId]: true } } } },
                              "s"]]);
  if (r.s.notUpdated && r.s.notUpdated[id]) throw new Error(`move failed: ${r.s.notUpdated[id].type}`);
  closeReader();
  await refresh();
}

$("move-select").addEventListener("change", () => {
  const target = $("move-select").value;
  $("move-select").value = "";
  if (target && state.email) moveTo(state.email.id, target).catch(fail);
});

$("delete-button").addEventListener("click", async () => {
  const e = state.email;
  if (!e) return;
  const trash = role("trash");
  try {
    if (trash && !e.mailboxIds[trash.id]) {
      await moveTo(e.id, trash.id);
    } else {
      const r = await jmap.call([["Email/set", { destroy: [e.id] }, "d"]]);
      if (r.d.notDestroyed && r.d.notDestroyed[e.id]) throw new Error("delete failed");
      closeReader();
      await refresh();
    }
    status("Deleted.");
  } catch (err) {
    fail(err);
  }
});

// ---- composing ----

const compose = { attachments: [], inReplyTo: null, references: null };

function openComposer({ to = "", cc = "", subject = "", text = "", inReplyTo = null,
                        references = null, attachments = [] } = {}) {
  $("reader").hidden = true;
  $("composer").hidden = false;
  $("compose-to").value = to;
  $("compose-cc").value = cc;
  $("compose-subject").value = subject;
  $("compose-body").value = text;
  $("compose-status").textContent = "";
  $("compose-files").value = "";
  compose.attachments = attachments;
  compose.inReplyTo = inReplyTo;
  compose.references = references;
  renderAttachments();
  $(to ? "compose-body" : "compose-to").focus();
}

function renderAttachments() {
  const list = $("compose-attachments");
  list.replaceChildren();
  compose.attachments.forEach((a, i) => {
    const remove = el("button", { type: "button" }, "Remove");
    remove.addEventListener("click", () => {
      compose.attachments.splice(i, 1);
      renderAttachments();
    });
    list.append(el("li", {}, `${a.name} (${Math.ceil(a.bytes.length / 1024)} KB) `, remove));
  });
}

$("compose-button").addEventListener("click", () => openComposer());
$("discard-button").addEventListener("click", () => {
  $("composer").hidden = true;
});

$("compose-files").addEventListener("change", async () => {
  for (const f of $("compose-files").files)
    compose.attachments.push({ name: f.name, type: f.type,
                               bytes: new Uint8Array(await f.arrayBuffer()) });
  $("compose-files").value = "";
  renderAttachments();
});

function quote(e) {
  const text = (e.textBody || []).map((p) => (e.bodyValues[p.partId] || {}).value || "")
    .join("\n");
  const from = e.from && e.from[0] ? formatAddress(e.from[0]) : "";
  return `\n\nOn ${new Date(e.sentAt || e.receivedAt).toUTCString()}, ${from} wrote:\n` +
    text.split("\n").map((l) => "> " + l).join("\n");
}

function reply(all) {
  const e = state.email;
  if (!e) return;
  const me = jmap.username.toLowerCase();
  const to = (e.replyTo && e.replyTo.length ? e.replyTo : e.from || []);
  let cc = [];
  if (all)
    cc = [...(e.to || []), ...(e.cc || [])].filter((a) => a.email.toLowerCase() !== me &&
      !to.some((t) => t.email.toLowerCase() === a.email.toLowerCase()));
  const mid = e.messageId && e.messageId[0] ? `<${e.messageId[0]}>` : null;
  const refs = (e.references || []).map((r) => `<${r}>`);
  if (mid) refs.push(mid);
  openComposer({ to: to.map(formatAddress).join(", "), cc: cc.map(formatAddress).join(", "),
                 subject: /^re:/i.test(e.subject || "") ? e.subject : `Re: ${e.subject || ""}`,
                 text: quote(e), inReplyTo: mid, references: refs.join(" ") || null });
}

$("reply-button").addEventListener("click", () => reply(false));
$("reply-all-button").addEventListener("click", () => reply(true));

$("forward-button").addEventListener("click", async () => {
  const e = state.email;
  if (!e) return;
  const attachments = [];
  try {
    for (const a of e.attachments || []) {
      const r = await fetch(jmap.downloadUrl(a.blobId, a.name || "attachment"),
                            { credentials: "same-origin" });
      attachments.push({ name: a.name || "attachment", type: a.type,
                         bytes: new Uint8Array(await r.arrayBuffer()) });
    }
  } catch (err) {
    fail(err);
    return;
  }
  openComposer({ subject: /^fwd?:/i.test(e.subject || "") ? e.subject : `Fwd: ${e.subject || ""}`,
                 text: "\n\n---------- Forwarded message ----------\n" +
                       `From: ${who(e.from)}\nSubject: ${e.subject || ""}\n` + quote(e).trimStart(),
                 attachments });
});

async function identity() {
  const r = await jmap.call([["Identity/get", { ids: null }, "i"]]);
  const me = jmap.username.toLowerCase();
  return r.i.list.find((i) => i.email.toLowerCase() === me) || r.i.list[0];
}

$("compose-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const say = (t) => { $("compose-status").textContent = t; };
  $("send-button").disabled = true;
  try {
    if (!jmap.canSubmit) throw new Error("this server does not offer sending (JMAP submission)");
    const to = parseAddresses($("compose-to").value);
    const cc = parseAddresses($("compose-cc").value);
    if (!to.length && !cc.length) throw new Error("no recipient");
    const id = await identity();
    const drafts = role("drafts"), sent = role("sent");
    if (!drafts) throw new Error("no Drafts folder");
    say("Sending…");
    const message = buildMessage({
      from: { name: id.name || null, email: id.email }, to, cc,
      subject: $("compose-subject").value, text: $("compose-body").value,
      inReplyTo: compose.inReplyTo, references: compose.references,
      attachments: compose.attachments,
    });
    const blob = await jmap.upload(message, "message/rfc822");
    const update = { [`mailboxIds/${drafts.id}`]: null, "keywords/$draft": null };
    if (sent) update[`mailboxIds/${sent.id}`] = true;
    const r = await jmap.call([
      ["Email/import", { emails: { draft: { blobId: blob.blobId,
                                            mailboxIds: { [drafts.id]: true },
                                            keywords: { $draft: true, $seen: true } } } }, "i"],
      ["EmailSubmission/set", {
        create: { send: { identityId: id.id, emailId: "#draft" } },
        onSuccessUpdateEmail: { "#send": update },
      }, "s"],
    ]);
    if (!r.i.created || !r.i.created.draft)
      throw new Error("the message was not accepted: " +
                      JSON.stringify((r.i.notCreated || {}).draft || {}));
    if (!r.s.created || !r.s.created.send)
      throw new Error("not sent: " + (((r.s.notCreated || {}).send || {}).description ||
                                      ((r.s.notCreated || {}).send || {}).type || "refused"));
    say("Sent.");
    $("composer").hidden = true;
    status("Message sent.");
    await refresh();
  } catch (e) {
    say(e.message);
  } finally {
    $("send-button").disabled = false;
  }
});

// ---- start ----

jmap.resume().then((ok) => (ok ? showMain() : showSignin())).catch(() => showSignin());
