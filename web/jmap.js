// The JMAP client of correio's webmail: sign-in by session cookie (the
// server sets it on POST /login), every state-changing request carrying
// the session's CSRF token, method calls, blob upload and download, and
// the EventSource push channel.

const CORE = "urn:ietf:params:jmap:core";
const MAIL = "urn:ietf:params:jmap:mail";
const SUBMISSION = "urn:ietf:params:jmap:submission";

export class JmapError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export class Jmap {
  constructor() {
    this.csrf = null;
    this.username = null;
    this.session = null;
    this.accountId = null;
  }

  // The current session if the cookie still names one, else false.
  async resume() {
    const r = await fetch("/login", { credentials: "same-origin" });
    if (r.status !== 200) return false;
    this.#signedIn(await r.json());
    await this.#loadSession();
    return true;
  }

  async signIn(username, password) {
    const r = await fetch("/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (r.status !== 200) {
      const text = r.status === 401 ? "Wrong address or password." :
        r.status === 429 ? "Too many failed attempts; try again later." :
        r.status === 403 ? "Sign-in refused: use https." :
        `Sign-in failed (${r.status}).`;
      throw new JmapError(text, r.status);
    }
    this.#signedIn(await r.json());
    await this.#loadSession();
  }

  async signOut() {
    await fetch("/logout", { method: "POST", credentials: "same-origin",
                             headers: this.#headers() });
    this.csrf = null;
    this.session = null;
  }

  #signedIn(info) {
    this.csrf = info.csrf;
    this.username = info.username;
  }

  #headers(extra = {}) {
    return Object.assign({ "X-Correio-CSRF": this.csrf }, extra);
  }

  async #loadSession() {
    const r = await fetch("/.well-known/jmap", { credentials: "same-origin",
                                                headers: this.#headers() });
    if (r.status !== 200) throw new JmapError("no JMAP session", r.status);
    this.session = await r.json();
    this.accountId = this.session.primaryAccounts[MAIL];
  }

  get canSubmit() {
    return this.session !== null && SUBMISSION in this.session.capabilities;
  }

  // Method calls [[name, args, tag]...]; accountId is filled in.  The
  // responses by tag (a second one of a tag as "tag/Name"); a method error
  // throws.
  async call(calls) {
    const using = [CORE, MAIL];
    if (calls.some(([name]) => name.startsWith("EmailSubmission") ||
                               name.startsWith("Identity")))
      using.push(SUBMISSION);
    for (const c of calls)
      if (!("accountId" in c[1])) c[1].accountId = this.accountId;
    const r = await fetch(this.session.apiUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: this.#headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ using, methodCalls: calls }),
    });
    if (r.status !== 200) throw new JmapError(`request failed (${r.status})`, r.status);
    const out = {};
    for (const [name, args, tag] of (await r.json()).methodResponses) {
      if (name === "error")
        throw new JmapError(`${tag}: ${args.type}${args.description ? ": " + args.description : ""}`);
      // a method may add responses of its own under the same tag (the
      // implicit Email/set of EmailSubmission/set): the first keeps the tag
      if (tag in out) out[`${tag}/${name}`] = args;
      else out[tag] = args;
    }
    return out;
  }

  async upload(data, type) {
    const url = this.session.uploadUrl.replace("{accountId}", this.accountId);
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: this.#headers({ "Content-Type": type || "application/octet-stream" }),
      body: data,
    });
    if (r.status !== 200 && r.status !== 201)
      throw new JmapError(`upload failed (${r.status})`, r.status);
    return r.json();
  }

  downloadUrl(blobId, name, type) {
    return this.session.downloadUrl
      .replace("{accountId}", encodeURIComponent(this.accountId))
      .replace("{blobId}", encodeURIComponent(blobId))
      .replace("{name}", encodeURIComponent(name || "attachment"))
      .replace("{type}", encodeURIComponent(type || "application/octet-stream"));
  }

  // Calls onChange(StateChange) on every change of the account.
  push(onChange) {
    const url = this.session.eventSourceUrl
      .replace("{types}", "*").replace("{closeafter}", "no").replace("{ping}", "60");
    const es = new EventSource(url);
    es.addEventListener("state", (ev) => onChange(JSON.parse(ev.data)));
    return es;
  }
}
