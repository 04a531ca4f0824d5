// The message a compose sends, as RFC 5322 text: UTF-8 headers encoded
// per RFC 2047, a text/plain body in quoted-printable, attachments in
// base64 under multipart/mixed.  CRLF line ends throughout.

const enc = new TextEncoder();

function randomToken(n = 12) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function wrap(text, width = 76) {
  const lines = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join("\r\n");
}

// A header value: as is when printable ASCII, else encoded words.
export function encodeWord(text) {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words = [];
  let chunk = "";
  for (const ch of text) {
    if (enc.encode(chunk + ch).length > 45) {
      words.push(chunk);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${base64(enc.encode(w))}?=`).join("\r\n ");
}

// "Name <a@b>, c@d" into [{name, email}] (quotes and angle brackets).
export function parseAddresses(text) {
  const out = [];
  for (const part of text.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const p = part.trim();
    if (!p) continue;
    const m = p.match(/^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$/);
    if (m) out.push({ name: m[1].replace(/^"|"$/g, "").trim() || null, email: m[2] });
    else if (/^[^\s@<>",]+@[^\s@<>",]+$/.test(p)) out.push({ name: null, email: p });
    else throw new Error(`not an address: ${p}`);
  }
  return out;
}

export function formatAddress(a) {
  if (!a.name) return a.email;
  const name = /^[\x20-\x7e]*$/.test(a.name) ? `"${a.name.replace(/["\\]/g, "")}"` :
    encodeWord(a.name);
  return `${name} <${a.email}>`;
}

function quotedPrintable(text) {
  const lines = text.replace(/\r\n|\r/g, "\n").split("\n");
  return lines.map((line) => {
    let out = "", len = 0;
    const bytes = enc.encode(line);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      const last = i === bytes.length - 1;
      let piece;
      if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last))
        piece = String.fromCharCode(b);
      else piece = "=" + b.toString(16).toUpperCase().padStart(2, "0");
      if (len + piece.length > 75) {
        out += "=\r\n";
        len = 0;
      }
      out += piece;
      len += piece.length;
    }
    return out;
  }).join("\r\n");
}

function dispositionName(name) {
  if (/^[\x20-\x7e]*$/.test(name)) return `filename="${name.replace(/["\\\r\n]/g, "_")}"`;
  return `filename*=UTF-8''${encodeURIComponent(name)}`;
}

// { from, to, cc, subject, text, inReplyTo, references, attachments:
// [{name, type, bytes}] } -> Uint8Array of the message.
export function buildMessage(m) {
  const domain = (m.from.email.split("@")[1] || "localhost").replace(/[^A-Za-z0-9.-]/g, "");
  const h = [];
  h.push(`From: ${formatAddress(m.from)}`);
  if (m.to.length) h.push(`To: ${m.to.map(formatAddress).join(", ")}`);
  if (m.cc.length) h.push(`Cc: ${m.cc.map(formatAddress).join(", ")}`);
  h.push(`Subject: ${encodeWord(m.subject || "")}`);
  h.push(`Date: ${new Date().toUTCString().replace("GMT", "+0000")}`);
  h.push(`Message-ID: <${randomToken()}@${domain}>`);
  if (m.inReplyTo) h.push(`In-Reply-To: ${m.inReplyTo}`);
  if (m.references) h.push(`References: ${m.references}`);
  h.push("MIME-Version: 1.0");
  const textPart = ["Content-Type: text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding: quoted-printable", "",
                    quotedPrintable(m.text || "")].join("\r\n");
  const chunks = [];
  if (!m.attachments.length) {
    chunks.push(h.join("\r\n") + "\r\n" + textPart + "\r\n");
  } else {
    const boundary = "=_correio_" + randomToken();
    h.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    chunks.push(h.join("\r\n") + "\r\n\r\nThis is a multipart message in MIME format.\r\n");
    chunks.push(`--${boundary}\r\n${textPart}\r\n`);
    for (const a of m.attachments) {
      const type = /^[\w.+-]+\/[\w.+-]+$/.test(a.type || "") ? a.type : "application/octet-stream";
      chunks.push(`--${boundary}\r\nContent-Type: ${type}\r\n` +
                  `Content-Disposition: attachment; ${dispositionName(a.name)}\r\n` +
                  "Content-Transfer-Encoding: base64\r\n\r\n" +
                  wrap(base64(a.bytes)) + "\r\n");
    }
    chunks.push(`--${boundary}--\r\n`);
  }
  return enc.encode(chunks.join(""));
}
