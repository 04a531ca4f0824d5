// The JMAP client test's Node side: jmap-jam (a third-party JMAP client
// library from npm) against a running correio.  Driven by
// tests/test_jmap_client.py over stdin/stdout: a line "ask <what>" asks
// the driver to act (deliver by SMTP, STORE by IMAP) and waits for "ok";
// the last line is "result <json>" with what was seen.
//
// Two shims for what jmap-jam leaves to its environment: it sends
// "Authorization: Bearer <token>" and correio logs in with HTTP Basic, so
// fetch rewrites the scheme (the token is base64(user:password)); and
// Node 20 has no EventSource, so a small one is built on fetch (text/
// event-stream parsed line by line, RFC 8620 §7.3).
import { JamClient } from "jmap-jam";
import readline from "node:readline";
import assert from "node:assert/strict";

const [url, user, pass, bobUser, bobPass] = process.argv.slice(2);
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  const auth = headers.get("Authorization");
  if (auth?.startsWith("Bearer ")) headers.set("Authorization", "Basic " + auth.slice(7));
  return realFetch(input, { ...init, headers });
};

class FetchEventSource {
  constructor(href) {
    this.listeners = {};
    this.abort = new AbortController();
    this.done = this.run(href);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  emit(type, data) {
    for (const fn of this.listeners[type] ?? []) fn({ type, data });
  }
  close() {
    this.abort.abort();
  }
  async run(href) {
    try {
      const r = await fetch(href, {
        headers: { Authorization: "Bearer " + token(user, pass), Accept: "text/event-stream" },
        signal: this.abort.signal,
      });
      const decoder = new TextDecoder();
      let text = "", type = "message", data = [];
      for await (const chunk of r.body) {
        text += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = text.indexOf("\n")) >= 0) {
          const line = text.slice(0, nl).replace(/\r$/, "");
          text = text.slice(nl + 1);
          if (line === "") {
            if (data.length) this.emit(type, data.join("\n"));
            type = "message";
            data = [];
          } else if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
      }
    } catch (e) {
      if (e.name !== "AbortError") this.emit("error", String(e));
    }
  }
}
globalThis.EventSource = FetchEventSource;

function token(u, p) {
  return Buffer.from(`${u}:${p}`).toString("base64");
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  console.log(`ask ${what}`);
  const { value } = await lines.next();
  assert.equal(value, "ok");
}

// Wait (up to 10 s) for a state event whose Email state differs from old.
function nextEmailState(events, accountId, old) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no push event")), 10000);
    const check = () => {
      const e = events.find((s) => s.changed?.[accountId]?.Email &&
                                   s.changed[accountId].Email !== old);
      if (e) {
        clearTimeout(timer);
        resolve(e.changed[accountId].Email);
      } else setTimeout(check, 20);
    };
    check();
  });
}

const result = {};
const jam = new JamClient({ sessionUrl: `${url}/.well-known/jmap`, bearerToken: token(user, pass) });
const session = await jam.session;
const accountId = await jam.getPrimaryAccount();
result.capabilities = Object.keys(session.capabilities).sort();

// mailboxes and the delivered message
const [boxes] = await jam.api.Mailbox.get({ accountId, ids: null });
const role = (r) => boxes.list.find((m) => m.role === r);
result.roles = boxes.list.map((m) => m.role).filter(Boolean).sort();
const [q] = await jam.api.Email.query({
  accountId, filter: { inMailbox: role("inbox").id }, sort: [{ property: "receivedAt", isAscending: false }],
});
const [got] = await jam.api.Email.get({ accountId, ids: q.ids, properties: ["subject", "from"] });
result.subjects = got.list.map((e) => e.subject);
let state = got.state;

// push: a stream open before the delivery
const events = [];
const sse = await jam.connectEventSource({ types: "*", closeafter: "no", ping: 0 });
sse.addEventListener("state", (e) => events.push(JSON.parse(e.data)));

// changes after an SMTP delivery
await ask("deliver");
result.pushedAfterDelivery = await nextEmailState(events, accountId, state);
const [ch1] = await jam.api.Email.changes({ accountId, sinceState: state });
const [fresh] = await jam.api.Email.get({ accountId, ids: ch1.created, properties: ["subject"] });
result.createdAfterDelivery = fresh.list.map((e) => e.subject);
state = ch1.newState;

// changes after an IMAP STORE
await ask("store");
const [ch2] = await jam.api.Email.changes({ accountId, sinceState: state });
const [flagged] = await jam.api.Email.get({ accountId, ids: ch2.updated, properties: ["keywords"] });
result.updatedAfterStore = flagged.list.map((e) => Object.keys(e.keywords).sort());
result.storeCreated = ch2.created.length;
sse.close();

// upload + EmailSubmission of a message with an attachment, to bob
const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
const message =
  `From: Alice <${user}>\r\nTo: Bob <${bobUser}>\r\nSubject: from jmap-jam\r\n` +
  `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="jam"\r\n\r\n` +
  `--jam\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe file is attached.\r\n` +
  `--jam\r\nContent-Type: application/octet-stream\r\n` +
  `Content-Disposition: attachment; filename="numbers.bin"\r\n` +
  `Content-Transfer-Encoding: base64\r\n\r\n` +
  attachment.toString("base64").replace(/.{76}/g, "$&\r\n") + `\r\n--jam--\r\n`;
const uploaded = await jam.uploadBlob(accountId, new Blob([message], { type: "message/rfc822" }));
const [ids] = await jam.api.Identity.get({ accountId });
const identity = ids.list.find((i) => i.email === user);
// (one call per request: jmap-jam keys responses by call id, and the
// implicit Email/set answer shares the submission's)
const [imported] = await jam.api.Email.import({
  accountId,
  emails: { draft: { blobId: uploaded.blobId, mailboxIds: { [role("drafts").id]: true },
                     keywords: { $draft: true, $seen: true } } },
});
const [sent] = await jam.api.EmailSubmission.set({
  accountId,
  create: { send: { identityId: identity.id, emailId: imported.created.draft.id } },
  onSuccessUpdateEmail: { "#send": { [`mailboxIds/${role("drafts").id}`]: null,
                                     [`mailboxIds/${role("sent").id}`]: true,
                                     "keywords/$draft": null } },
});
result.submission = sent.created.send;
const [sentBox] = await jam.api.Email.query({ accountId, filter: { inMailbox: role("sent").id } });
result.inSent = sentBox.ids.length;

// bob reads it through the library and downloads the attachment
await ask("wait-bob");
const bob = new JamClient({ sessionUrl: `${url}/.well-known/jmap`, bearerToken: token(bobUser, bobPass) });
const bobAccount = await bob.getPrimaryAccount();
const [bq] = await bob.api.Email.query({ accountId: bobAccount });
const [bg] = await bob.api.Email.get({ accountId: bobAccount, ids: bq.ids,
                                       properties: ["subject", "attachments"] });
const mail = bg.list.find((e) => e.subject === "from jmap-jam");
const part = mail.attachments[0];
const download = await bob.downloadBlob({ accountId: bobAccount, blobId: part.blobId,
                                          mimeType: "application/octet-stream",
                                          fileName: part.name });
const bytes = Buffer.from(await download.arrayBuffer());
result.attachmentName = part.name;
result.attachmentSame = bytes.equals(attachment);
console.log("result " + JSON.stringify(result));
process.exit(0);
