// HTML mail made safe to show: parsed by DOMParser (an inert document:
// nothing in it runs or loads), then rebuilt from an allowlist of elements
// and attributes.  Scripts, event handlers, forms, frames, objects, meta
// refreshes and base elements go; links keep only http, https and mailto
// and open in a new tab; remote images and CSS url() are held back until
// the reader asks.  The result goes into a sandboxed frame (no scripts)
// with a Content-Security-Policy of its own, so a miss here still runs
// and fetches nothing.

const ELEMENTS = new Set([
  "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
  "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
  "dl", "dt", "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6",
  "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
  "small", "span", "strike", "strong", "style", "sub", "summary", "sup", "table",
  "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
]);
// dropped with everything inside them
const DROP = new Set([
  "script", "noscript", "template", "iframe", "frame", "frameset", "object", "embed",
  "applet", "form", "input", "button", "select", "textarea", "option", "link", "meta",
  "base", "title", "svg", "math", "audio", "video", "source", "track", "canvas", "portal",
]);
const ATTRIBUTES = new Set([
  "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "class", "color",
  "colspan", "dir", "face", "height", "hspace", "lang", "rowspan", "size", "span",
  "start", "style", "summary", "title", "type", "valign", "vspace", "width",
]);

const REMOTE_URL = /url\s*\(|@import|image-set\s*\(|expression\s*\(/gi;

function cleanCss(text, allowRemote) {
  if (allowRemote) return text.replace(/@import[^;]*;?/gi, "").replace(/expression\s*\(/gi, "blocked(");
  return text.replace(REMOTE_URL, "blocked(");
}

function safeLink(href) {
  try {
    const u = new URL(href, "https://invalid.invalid/");
    if (u.protocol === "http:" || u.protocol === "https:" || u.protocol === "mailto:")
      return href.startsWith(u.protocol) ? u.href : null;
  } catch (e) {
    return null;
  }
  return null;
}

// { html, blocked }: the clean document's text, and how many remote
// resources were held back.  cidUrls maps Content-IDs to data: URLs.
export function sanitizeHtml(html, { allowRemote = false, cidUrls = new Map() } = {}) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const out = document.implementation.createHTMLDocument("");
  let blocked = 0;

  const copy = (from, to) => {
    for (const node of Array.from(from.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(out.createTextNode(node.data));
        continue;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const name = node.localName;
      if (node.namespaceURI !== "http://www.w3.org/1999/xhtml" || DROP.has(name)) continue;
      if (!ELEMENTS.has(name)) {
        copy(node, to);		// unknown element: keep its content
        continue;
      }
      const el = out.createElement(name);
      for (const attr of Array.from(node.attributes)) {
        const a = attr.name.toLowerCase();
        if (!ATTRIBUTES.has(a)) continue;
        let v = attr.value;
        if (a === "style") {
          const clean = cleanCss(v, allowRemote);
          if (clean !== v && !allowRemote) blocked++;
          v = clean;
        }
        el.setAttribute(a, v);
      }
      if (name === "a" && node.hasAttribute("href")) {
        const href = safeLink(node.getAttribute("href"));
        if (href !== null) {
          el.setAttribute("href", href);
          el.setAttribute("target", "_blank");
          el.setAttribute("rel", "noopener noreferrer");
        }
      }
      if (name === "img") {
        const src = (node.getAttribute("src") || "").trim();
        if (/^cid:/i.test(src) && cidUrls.has(src.slice(4).replace(/^<|>$/g, ""))) {
          el.setAttribute("src", cidUrls.get(src.slice(4).replace(/^<|>$/g, "")));
        } else if (/^data:image\/(png|gif|jpeg|webp);/i.test(src)) {
          el.setAttribute("src", src);
        } else if (/^https?:/i.test(src)) {
          if (allowRemote) el.setAttribute("src", src);
          else {
            blocked++;
            el.setAttribute("alt", node.getAttribute("alt") || "[image]");
          }
        }
      }
      if (name === "style") {
        const text = node.textContent;
        const clean = cleanCss(text, allowRemote);
        if (clean !== text && !allowRemote) blocked++;
        el.textContent = clean;
      } else {
        copy(node, el);
      }
      to.appendChild(el);
    }
  };
  const head = out.head, body = out.body;
  for (const style of Array.from(doc.head ? doc.head.querySelectorAll("style") : [])) {
    const el = out.createElement("style");
    const clean = cleanCss(style.textContent, allowRemote);
    if (clean !== style.textContent && !allowRemote) blocked++;
    el.textContent = clean;
    head.appendChild(el);
  }
  copy(doc.body || doc.documentElement, body);
  const policy = out.createElement("meta");
  policy.setAttribute("http-equiv", "Content-Security-Policy");
  policy.setAttribute("content", "default-src 'none'; style-src 'unsafe-inline'; font-src data:; " +
                      (allowRemote ? "img-src data: https: http:" : "img-src data:"));
  head.prepend(policy);
  const charset = out.createElement("meta");
  charset.setAttribute("charset", "utf-8");
  head.prepend(charset);
  const base = out.createElement("base");
  base.setAttribute("target", "_blank");
  head.appendChild(base);
  return { html: "<!doctype html>" + out.documentElement.outerHTML, blocked };
}

// Plain text shown as text: escaped by the DOM, links made clickable.
export function textToNodes(text, doc = document) {
  const frag = doc.createDocumentFragment();
  const re = /\bhttps?:\/\/[^\s<>"]+/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    frag.appendChild(doc.createTextNode(text.slice(last, m.index)));
    const a = doc.createElement("a");
    a.href = m[0];
    a.textContent = m[0];
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    frag.appendChild(a);
    last = m.index + m[0].length;
  }
  frag.appendChild(doc.createTextNode(text.slice(last)));
  return frag;
}
