/*
 * Switchboard chat widget. One tag on any page is all it takes:
 *
 *   <script src="https://support.example.com/widget.js" defer></script>
 *
 * The script finds its server from its own `src`. Options, as data-* attributes on that tag:
 * data-title, data-color, data-position ("right" | "left"), data-lang (en, es, fr, de, pt),
 * data-greeting. JS API: Switchboard.open(), .close(), .identify({name, email, phone}).
 *
 * The widget lives in an open Shadow DOM, so the host page's CSS cannot break it and it cannot
 * break the host page. Message text is always inserted as text, never as HTML.
 *
 * The server serves this file inside a function, after web/shared/text.js (el, linkify, reflow).
 */
if (window.Switchboard && window.Switchboard.version) return;

const script =
  document.currentScript ||
  document.querySelector('script[src*="widget.js"]');
const server = new URL(script.src, location.href);
const origin = server.origin;
const options = script.dataset;

// ---------------------------------------------------------------- strings
const STRINGS = {
  en: {
    title: "Chat with us", open: "Open chat", close: "Close chat",
    greeting: "Hi! Tell us who you are and we'll get you an answer right away.",
    name: "Name", email: "Email", phone: "Phone", start: "Start chat",
    message: "Message", send: "Send", human: "Talk to a person",
    you: "You", assistant: "Assistant", agent: "Agent", person: "person",
    pending: "Sending…", typing: "Typing…",
    offline: "You are offline. Reconnecting…", connecting: "Connecting…",
    waiting: (n) => n === 1 ? "You are next in line." : `You are number ${n} in the queue.`,
    joined: (name) => `${name} (a person) has joined the conversation.`,
    back: "You are chatting with the virtual assistant again.",
    closed: "This conversation has been closed.",
    restart: "Start a new conversation", failed: "Something went wrong. Please try again.",
    messages: "Conversation",
  },
  es: {
    title: "Chatea con nosotros", open: "Abrir chat", close: "Cerrar chat",
    greeting: "¡Hola! Dinos quién eres y te responderemos enseguida.",
    name: "Nombre", email: "Correo electrónico", phone: "Teléfono", start: "Iniciar chat",
    message: "Mensaje", send: "Enviar", human: "Hablar con una persona",
    you: "Tú", assistant: "Asistente", agent: "Agente", person: "persona",
    pending: "Enviando…", typing: "Escribiendo…",
    offline: "Sin conexión. Reconectando…", connecting: "Conectando…",
    waiting: (n) => n === 1 ? "Eres el siguiente en la cola." : `Eres el número ${n} en la cola.`,
    joined: (name) => `${name} (una persona) se ha unido a la conversación.`,
    back: "Vuelves a hablar con el asistente virtual.",
    closed: "Esta conversación se ha cerrado.",
    restart: "Empezar una nueva conversación", failed: "Algo salió mal. Inténtalo de nuevo.",
    messages: "Conversación",
  },
  fr: {
    title: "Discutez avec nous", open: "Ouvrir le chat", close: "Fermer le chat",
    greeting: "Bonjour ! Dites-nous qui vous êtes et nous vous répondrons tout de suite.",
    name: "Nom", email: "E-mail", phone: "Téléphone", start: "Commencer",
    message: "Message", send: "Envoyer", human: "Parler à une personne",
    you: "Vous", assistant: "Assistant", agent: "Conseiller", person: "personne",
    pending: "Envoi…", typing: "Écrit…",
    offline: "Hors ligne. Reconnexion…", connecting: "Connexion…",
    waiting: (n) => n === 1 ? "Vous êtes le prochain." : `Vous êtes numéro ${n} dans la file.`,
    joined: (name) => `${name} (une personne) a rejoint la conversation.`,
    back: "Vous discutez de nouveau avec l'assistant virtuel.",
    closed: "Cette conversation est terminée.",
    restart: "Nouvelle conversation", failed: "Une erreur est survenue. Réessayez.",
    messages: "Conversation",
  },
  de: {
    title: "Chatten Sie mit uns", open: "Chat öffnen", close: "Chat schließen",
    greeting: "Hallo! Sagen Sie uns, wer Sie sind, und wir antworten sofort.",
    name: "Name", email: "E-Mail", phone: "Telefon", start: "Chat starten",
    message: "Nachricht", send: "Senden", human: "Mit einem Menschen sprechen",
    you: "Sie", assistant: "Assistent", agent: "Mitarbeiter", person: "Mensch",
    pending: "Wird gesendet…", typing: "Schreibt…",
    offline: "Offline. Verbindung wird hergestellt…", connecting: "Verbinde…",
    waiting: (n) => n === 1 ? "Sie sind als Nächstes dran." : `Sie sind Nummer ${n} in der Warteschlange.`,
    joined: (name) => `${name} (ein Mensch) ist dem Gespräch beigetreten.`,
    back: "Sie chatten wieder mit dem virtuellen Assistenten.",
    closed: "Dieses Gespräch wurde beendet.",
    restart: "Neues Gespräch beginnen", failed: "Etwas ist schiefgelaufen. Bitte erneut versuchen.",
    messages: "Gespräch",
  },
  pt: {
    title: "Fale connosco", open: "Abrir chat", close: "Fechar chat",
    greeting: "Olá! Diga-nos quem é e respondemos já.",
    name: "Nome", email: "E-mail", phone: "Telefone", start: "Iniciar chat",
    message: "Mensagem", send: "Enviar", human: "Falar com uma pessoa",
    you: "Você", assistant: "Assistente", agent: "Atendente", person: "pessoa",
    pending: "A enviar…", typing: "A escrever…",
    offline: "Sem ligação. A religar…", connecting: "A ligar…",
    waiting: (n) => n === 1 ? "É o próximo da fila." : `É o número ${n} da fila.`,
    joined: (name) => `${name} (uma pessoa) juntou-se à conversa.`,
    back: "Está de novo a falar com o assistente virtual.",
    closed: "Esta conversa foi encerrada.",
    restart: "Começar uma nova conversa", failed: "Algo correu mal. Tente de novo.",
    messages: "Conversa",
  },
};
const lang = [options.lang, ...(navigator.languages || [navigator.language])]
  .filter(Boolean)
  .map((l) => String(l).slice(0, 2).toLowerCase())
  .find((l) => STRINGS[l]) || "en";
const t = STRINGS[lang];
const title = options.title || t.title;

// ---------------------------------------------------------------- storage
const KEY = `switchboard:${origin}`;
const load = () => {
  try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch { return {}; }
};
const saved = load();
const state = {
  sessionId: saved.sessionId || null,
  clientToken: saved.clientToken || null,
  identity: saved.identity || null,
  pending: new Map((saved.pending || []).map((p) => [p.id, p])),
  lastId: 0,
  shown: new Set(),
  streams: new Map(),
  socket: null,
  attempt: 0,
  retryTimer: null,
  closed: false,
  open: false,
  /** "Talk to a person" was pressed while the socket was not open. */
  wantsHuman: false,
  lastTyping: 0,
};
const persist = () => {
  const data = {
    sessionId: state.sessionId,
    clientToken: state.clientToken,
    identity: state.identity,
    pending: [...state.pending.values()].map(({ id, content }) => ({ id, content })),
  };
  try { localStorage.setItem(KEY, JSON.stringify(data)); } catch { /* private mode */ }
};

// ---------------------------------------------------------------- DOM
const host = el("div", { id: "switchboard-widget" });
if (options.color) host.style.setProperty("--sb-accent", options.color);
const root = host.attachShadow({ mode: "open" });
const sheet = new CSSStyleSheet();
sheet.replaceSync(CSS());
root.adoptedStyleSheets = [sheet];

const launcher = el("button", {
  class: "launcher", type: "button", "aria-label": t.open,
  "aria-expanded": "false", "aria-controls": "sb-panel",
});
launcher.append(icon());
const status = el("p", { class: "status", role: "status" });
const field = (id, label, type, autocomplete) => {
  const input = el("input", {
    id: `sb-${id}`, name: id, type, autocomplete, required: true,
    "aria-describedby": `sb-${id}-error`,
  });
  const error = el("span", { class: "error", id: `sb-${id}-error` });
  return { input, error, node: el("div", { class: "field" }, el("label", { for: `sb-${id}`, text: label }), input, error) };
};
const fields = {
  name: field("name", t.name, "text", "name"),
  email: field("email", t.email, "email", "email"),
  phone: field("phone", t.phone, "tel", "tel"),
};
const formError = el("p", { class: "error", role: "alert" });
const intro = el("form", { class: "intro", novalidate: true },
  el("p", { class: "greeting", text: options.greeting || t.greeting }),
  fields.name.node, fields.email.node, fields.phone.node, formError,
  el("button", { type: "submit", class: "primary", text: t.start }));
const log = el("div", { class: "log", role: "log", "aria-label": t.messages, "aria-live": "polite", tabindex: "0" });
const typing = el("p", { class: "typing", hidden: true, text: t.typing });
const banner = el("p", { class: "banner", role: "status", hidden: true, text: t.offline });
const human = el("button", { type: "button", class: "secondary human", text: t.human });
const textarea = el("textarea", { id: "sb-message", rows: "1", maxlength: "8000" });
const sendButton = el("button", { type: "submit", class: "primary", text: t.send });
const composer = el("form", { class: "composer" },
  el("label", { for: "sb-message", class: "visually-hidden", text: t.message }), textarea, sendButton);
const restart = el("button", { type: "button", class: "primary", text: t.restart });
const ended = el("div", { class: "ended", hidden: true }, el("p", { text: t.closed }), restart);
const chat = el("div", { class: "chat", hidden: true }, log, typing, banner, human, composer, ended);
const panel = el("section", { class: "panel", id: "sb-panel", role: "dialog", "aria-label": title, hidden: true },
  el("header", {}, el("h2", { text: title }), status), intro, chat);
const wrapper = el("div", { class: `widget ${options.position === "left" ? "left" : "right"}` }, panel, launcher);
root.append(wrapper);

function icon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------- messages
const SENDERS = { CLIENT: "client", AI: "ai", ADMIN: "admin" };

function bubble(kind, text, extra = {}) {
  const who = { client: t.you, ai: t.assistant, admin: t.agent }[kind];
  const body = el("div", { class: "text" });
  linkify(body, kind === "ai" ? reflow(text) : text);
  const node = el("div", { class: `msg ${kind}`, ...extra });
  if (who) {
    const label = el("span", { class: "who", text: who });
    if (kind === "admin") label.append(" ", el("span", { class: "badge", text: t.person }));
    node.append(label);
  }
  node.append(body);
  return node;
}

function append(node) {
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(node);
  if (atEnd || state.open) log.scrollTop = log.scrollHeight;
}

function notice(text) {
  append(el("p", { class: "notice", text }));
}

/** Shows a stored message once; returns false if it was shown already. */
function showStored(message) {
  const id = Number(message.id);
  if (state.shown.has(id)) return false;
  state.shown.add(id);
  state.lastId = Math.max(state.lastId, id);
  const kind = SENDERS[message.sender_type] || "ai";
  const node = bubble(kind, message.content, { "data-id": String(id) });
  const stream = message.stream_id && state.streams.get(message.stream_id);
  if (stream) {
    stream.replaceWith(node);
    state.streams.delete(message.stream_id);
  } else {
    append(node);
  }
  return true;
}

function showPending(entry) {
  entry.node = bubble("client", entry.content, { "data-pending": "true" });
  entry.node.append(el("span", { class: "state", text: t.pending }));
  append(entry.node);
}

// ---------------------------------------------------------------- socket
/** The session's client_token as a query parameter (servers with CLIENT_TOKENS=required ask for it). */
function tokenParam(separator) {
  return state.clientToken ? `${separator}client_token=${encodeURIComponent(state.clientToken)}` : "";
}

function send(frame) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function connect() {
  clearTimeout(state.retryTimer);
  if (!state.sessionId || state.closed) return;
  const scheme = server.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${server.host}/ws/client/${encodeURIComponent(state.sessionId)}?after=${state.lastId}${tokenParam("&")}`;
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.onopen = () => {
    state.attempt = 0;
    banner.hidden = true;
    // A "talk to a person" pressed while the socket was still connecting.
    if (state.wantsHuman && send({ type: "request_human" })) state.wantsHuman = false;
    for (const entry of state.pending.values()) {
      send({ type: "message", content: entry.content, client_msg_id: entry.id });
    }
  };
  socket.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    handle(frame);
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 4004) return forget();
    if (state.closed) return;
    banner.hidden = false;
    const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
    state.attempt += 1;
    state.retryTimer = setTimeout(connect, delay);
  };
}

function handle(frame) {
  switch (frame.type) {
    case "connected":
      if (frame.state === "CLOSED") end();
      human.hidden = frame.state !== "AI";
      break;
    case "message":
      typing.hidden = true;
      showStored(frame);
      break;
    case "message_delta": {
      let node = state.streams.get(frame.stream_id);
      if (!node) {
        node = bubble("ai", "", { "data-stream": frame.stream_id });
        state.streams.set(frame.stream_id, node);
        append(node);
      }
      const text = node.querySelector(".text");
      node.dataset.raw = (node.dataset.raw || "") + frame.delta;
      text.textContent = "";
      linkify(text, reflow(node.dataset.raw));
      log.scrollTop = log.scrollHeight;
      break;
    }
    case "handoff_requested":
      human.hidden = true;
      if (frame.id != null) showStored({ id: frame.id, sender_type: "AI", content: frame.message });
      break;
    case "waiting":
      status.textContent = t.waiting(frame.queue_position);
      break;
    case "agent_connected":
      human.hidden = true;
      status.textContent = "";
      notice(t.joined(frame.agent_name || t.agent));
      break;
    case "returned_to_ai":
      human.hidden = false;
      status.textContent = "";
      notice(t.back);
      break;
    case "session_closed":
      end();
      break;
    case "typing":
      typing.hidden = false;
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(() => { typing.hidden = true; }, 4000);
      break;
    case "ack": {
      const entry = state.pending.get(frame.client_msg_id);
      if (!entry) break;
      state.pending.delete(frame.client_msg_id);
      persist();
      const id = Number(frame.id);
      if (state.shown.has(id)) {
        entry.node && entry.node.remove();
      } else {
        state.shown.add(id);
        state.lastId = Math.max(state.lastId, id);
        if (entry.node) {
          entry.node.removeAttribute("data-pending");
          entry.node.dataset.id = String(id);
          const mark = entry.node.querySelector(".state");
          if (mark) mark.remove();
        }
      }
      break;
    }
    case "error":
      if (frame.code === "conflict") end();
      else notice(frame.message || t.failed);
      break;
    default:
      break;
  }
}

function end() {
  if (state.closed) return;
  state.closed = true;
  status.textContent = "";
  notice(t.closed);
  composer.hidden = true;
  human.hidden = true;
  typing.hidden = true;
  ended.hidden = false;
  if (state.socket) state.socket.close(1000);
}

/** The session is gone (or the customer starts over): back to the form. */
function forget() {
  if (state.socket) { const s = state.socket; state.socket = null; s.close(1000); }
  clearTimeout(state.retryTimer);
  Object.assign(state, { sessionId: null, clientToken: null, lastId: 0, closed: false });
  state.pending.clear();
  state.shown.clear();
  state.streams.clear();
  log.replaceChildren();
  status.textContent = "";
  persist();
  showForm();
}

// ---------------------------------------------------------------- flows
function showForm() {
  chat.hidden = true;
  intro.hidden = false;
  const who = state.identity || {};
  for (const key of Object.keys(fields)) fields[key].input.value = who[key] || "";
}

async function showChat() {
  intro.hidden = true;
  chat.hidden = false;
  composer.hidden = false;
  ended.hidden = true;
  human.hidden = false;
  await history();
  for (const entry of state.pending.values()) if (!entry.node) showPending(entry);
  connect();
}

async function history() {
  try {
    const response = await fetch(`${origin}/api/sessions/${encodeURIComponent(state.sessionId)}/messages${tokenParam("?")}`);
    if (response.status === 404) return forget();
    if (!response.ok) return;
    for (const message of await response.json()) showStored(message);
  } catch { /* offline: the socket's replay catches up */ }
}

async function start(identity) {
  formError.textContent = "";
  for (const f of Object.values(fields)) { f.error.textContent = ""; f.input.removeAttribute("aria-invalid"); }
  let response;
  try {
    response = await fetch(`${origin}/api/sessions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_info: identity, language: lang }),
    });
  } catch {
    formError.textContent = t.failed;
    return false;
  }
  if (response.status === 422) {
    const body = await response.json().catch(() => ({}));
    for (const problem of body.detail || []) {
      const key = (problem.loc || [])[problem.loc.length - 1];
      const target = fields[key];
      if (target) {
        target.error.textContent = problem.msg;
        target.input.setAttribute("aria-invalid", "true");
      } else {
        formError.textContent = problem.msg || t.failed;
      }
    }
    const bad = Object.values(fields).find((f) => f.input.getAttribute("aria-invalid"));
    if (bad) bad.input.focus();
    return false;
  }
  if (!response.ok) {
    formError.textContent = t.failed;
    return false;
  }
  const session = await response.json();
  state.sessionId = session.session_id;
  state.clientToken = session.client_token || null;
  state.identity = identity;
  persist();
  await showChat();
  textarea.focus();
  return true;
}

function submitMessage() {
  const content = textarea.value.trim();
  if (!content || state.closed) return;
  textarea.value = "";
  state.lastTyping = 0; // the next keystroke announces typing again
  const id = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
  const entry = { id, content };
  state.pending.set(id, entry);
  persist();
  showPending(entry);
  send({ type: "message", content, client_msg_id: id });
}

// ---------------------------------------------------------------- events
function setOpen(open) {
  state.open = open;
  panel.hidden = !open;
  launcher.setAttribute("aria-expanded", String(open));
  launcher.setAttribute("aria-label", open ? t.close : t.open);
  if (!open) return launcher.focus();
  if (!state.sessionId && state.identity && state.identity.name) {
    start(state.identity);
  }
  const target = state.sessionId ? textarea : fields.name.input;
  requestAnimationFrame(() => target.focus());
}

launcher.addEventListener("click", () => setOpen(!state.open));
panel.addEventListener("keydown", (event) => {
  if (event.key === "Escape") { event.preventDefault(); setOpen(false); }
});
intro.addEventListener("submit", (event) => {
  event.preventDefault();
  start({
    name: fields.name.input.value.trim(),
    email: fields.email.input.value.trim(),
    phone: fields.phone.input.value.trim(),
  });
});
composer.addEventListener("submit", (event) => { event.preventDefault(); submitMessage(); });
textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitMessage();
  }
});
textarea.addEventListener("input", () => {
  const now = Date.now();
  if (now - state.lastTyping > 2500 && textarea.value.trim()) {
    state.lastTyping = now;
    send({ type: "typing" });
  }
});
human.addEventListener("click", () => {
  // Sent now, or as soon as the socket opens: a press is never lost.
  state.wantsHuman = !send({ type: "request_human" });
  human.hidden = true;
});
restart.addEventListener("click", () => { forget(); fields.name.input.focus(); });

// ---------------------------------------------------------------- start
const mount = () => {
  document.body.append(host);
  if (state.sessionId) showChat(); else showForm();
};
if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

window.Switchboard = Object.freeze({
  version: "1",
  open: () => setOpen(true),
  close: () => setOpen(false),
  identify(person) {
    const pick = (v) => (typeof v === "string" ? v.trim() : "");
    state.identity = { name: pick(person && person.name), email: pick(person && person.email), phone: pick(person && person.phone) };
    persist();
    if (!state.sessionId) showForm();
  },
});

function CSS() {
  return `
:host { all: initial; }
.widget { --accent: var(--sb-accent, #2457d6); position: fixed; bottom: 20px; right: 20px; z-index: 2147483000;
font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; }
.widget.left { right: auto; left: 20px; }
.launcher { width: 60px; height: 60px; border-radius: 50%; border: 0; background: var(--accent); color: #fff;
box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; display: grid; place-items: center; margin-left: auto; }
.widget.left .launcher { margin-left: 0; }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.launcher:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible, .log:focus-visible {
outline: 3px solid #ffbf47; outline-offset: 2px; }
.panel { position: absolute; bottom: 76px; right: 0; width: 370px; max-width: calc(100vw - 40px);
height: 560px; max-height: calc(100vh - 120px); background: #fff; border-radius: 14px;
box-shadow: 0 10px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden; }
.widget.left .panel { right: auto; left: 0; }
.panel[hidden], [hidden] { display: none !important; }
header { background: var(--accent); color: #fff; padding: 12px 16px; }
h2 { margin: 0; font-size: 17px; font-weight: 600; }
.status { margin: 2px 0 0; font-size: 13px; min-height: 0; }
.status:empty { display: none; }
.intro { padding: 16px; overflow: auto; display: flex; flex-direction: column; gap: 10px; }
.greeting { margin: 0 0 4px; }
.field { display: flex; flex-direction: column; gap: 3px; }
label { font-size: 13px; font-weight: 600; }
input, textarea { font: inherit; color: inherit; border: 1px solid #8a939e; border-radius: 8px; padding: 8px 10px; background: #fff; }
input[aria-invalid] { border-color: #b3261e; }
.error { color: #b3261e; font-size: 13px; margin: 0; }
.error:empty { display: none; }
.primary, .secondary { font: inherit; border-radius: 8px; padding: 8px 14px; cursor: pointer; }
.primary { background: var(--accent); color: #fff; border: 0; font-weight: 600; }
.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
.chat { display: flex; flex-direction: column; flex: 1; min-height: 0; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f5f7fa; }
.msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #dde2e8; }
.msg .text { white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.client { align-self: flex-end; background: var(--accent); color: #fff; border-color: transparent; }
.msg.client a { color: #fff; }
.msg.admin { border-color: #2e7d32; }
.who { display: block; font-size: 12px; font-weight: 600; opacity: .8; margin-bottom: 2px; }
.badge { background: #2e7d32; color: #fff; border-radius: 4px; padding: 0 5px; font-size: 11px; }
.state { display: block; font-size: 11px; opacity: .8; }
.notice { align-self: center; font-size: 13px; color: #4a5360; margin: 2px 0; text-align: center; }
.typing { margin: 0; padding: 2px 14px; font-size: 13px; color: #4a5360; }
.banner { margin: 0; padding: 6px 14px; background: #fff4e5; color: #7a4100; font-size: 13px; }
.human { margin: 8px 12px 0; align-self: flex-start; }
.composer { display: flex; gap: 8px; padding: 10px 12px 12px; align-items: flex-end; }
.composer textarea { flex: 1; resize: none; max-height: 120px; }
.ended { padding: 12px; text-align: center; }
.ended p { margin: 0 0 8px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
.widget { bottom: 12px; right: 12px; }
.widget.left { left: 12px; }
.panel { position: fixed; top: 0; left: 0; right: 0; bottom: 84px; width: auto; max-width: none; height: auto; max-height: none; border-radius: 0; }
}`;
}
