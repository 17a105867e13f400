/*
 * Helpers shared by the widget and the console: building elements, and putting message text on
 * the page as text (never HTML), with links made clickable and hard-wrapped answers reflowed.
 * The server prepends this file to both scripts, inside the function that wraps each.
 */

/** An element with attributes (`class`, `text` for its text, others as attributes) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;

/** Appends `text` to `node` as text, with http(s) links made clickable. */
function linkify(node, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0].replace(/[.,;:!?)\]]+$/, "");
    const start = match.index;
    node.append(text.slice(last, start));
    let safe = null;
    try { safe = new URL(url); } catch { /* not a URL after all */ }
    if (safe && (safe.protocol === "https:" || safe.protocol === "http:")) {
      node.append(el("a", { href: safe.href, target: "_blank", rel: "noopener noreferrer nofollow", text: url }));
    } else {
      node.append(url);
    }
    last = start + url.length;
  }
  node.append(text.slice(last));
}

/** The assistant's answers are hard-wrapped markdown: join wrapped lines into paragraphs. */
function reflow(text) {
  return text.split(/\n\s*\n/).map((paragraph) =>
    paragraph.split("\n").reduce((out, line) => {
      const item = /^\s*([-*•]|\d+[.)])\s/.test(line);
      if (!out) return line.trim();
      return item ? `${out}\n${line.trim()}` : `${out} ${line.trim()}`;
    }, "")).join("\n\n");
}

