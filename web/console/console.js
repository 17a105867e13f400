/*
 * The agent console: sign in, watch the queue live, claim customers, answer them, hand them back
 * to the assistant or the queue, close conversations, read the history.
 *
 * Tokens live in this function's variables only (never in storage a script could read), the
 * access token is renewed with the refresh token before it expires, and message text is always
 * inserted as text. The server serves this file inside a function, after web/shared/text.js.
 */
const $ = (id) => document.getElementById(id);
const view = {
  signinView: $("signin-view"), appView: $("app-view"), account: $("account"), me: $("me"),
  signin: $("signin"), username: $("username"), password: $("password"), signinError: $("signin-error"),
  signout: $("signout"), sound: $("sound"), connection: $("connection"), toast: $("toast"),
  queue: $("queue"), queueCount: $("queue-count"), mine: $("mine"), history: $("history"),
  newer: $("newer"), older: $("older"),
  conversation: $("conversation"), title: $("conversation-title"), details: $("conversation-details"),
  actions: $("actions"), release: $("release"), returnToAi: $("return"), close: $("close"),
  transcript: $("transcript"), typing: $("typing"), replyForm: $("reply-form"), reply: $("reply"),
  summary: $("summary"), suggestionsBox: $("suggestions-box"), suggestions: $("suggestions"),
};

const SENDERS = { CLIENT: "client", AI: "ai", ADMIN: "admin" };
const WHO = { client: "Customer", ai: "Assistant", admin: "Agent" };
const HISTORY_PAGE = 20;
const BASE_TITLE = document.title;

let auth = null; // { access, refresh, agent }
let refreshTimer = null;
let socket = null;
let retryTimer = null;
let attempt = 0;
let lastId = 0;
let unseen = 0;
let historyOffset = 0;
let toastTimer = null;
let typingTimer = null;
/** Waiting customers by session id: { session_id, client_name, queued_at, reason }. */
const queue = new Map();
/** Why the assistant handed a session off, by session id. */
const reasons = new Map();
/** What the agent should know first about a handed-off session, by session id. */
const summaries = new Map();
/** Sessions this agent holds, by session id: { session, messages: Map, unread }. */
const mine = new Map();
/** Claims sent and not yet answered. */
const claiming = new Set();
/** Replies sent and not yet acknowledged, by client_msg_id. */
const pending = new Map();
/** The conversation on screen: { id, held } or null. */
let current = null;

// ---------------------------------------------------------------- auth
function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

function useTokens(token) {
  auth = { ...(auth || {}), access: token.access_token, refresh: token.refresh_token };
  clearTimeout(refreshTimer);
  const expires = (claims(auth.access).exp || 0) * 1000;
  const delay = Math.max(5000, expires - Date.now() - 60000);
  refreshTimer = setTimeout(renew, delay);
}

async function renew() {
  if (!auth) return false;
  try {
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: auth.refresh }),
    });
    if (!response.ok) throw new Error(String(response.status));
    useTokens(await response.json());
    return true;
  } catch {
    signOut("Your session has expired. Please sign in again.");
    return false;
  }
}

/** A JSON API call with the access token; renews it once on a 401. */
async function api(path, options = {}, retried = false) {
  const response = await fetch(path, {
    ...options,
    headers: { ...(options.headers || {}), Authorization: `Bearer ${auth.access}` },
  });
  if (response.status === 401 && !retried && (await renew())) return api(path, options, true);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function signIn(event) {
  event.preventDefault();
  view.signinError.textContent = "";
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: view.username.value.trim(), password: view.password.value }),
  }).catch(() => null);
  if (!response || !response.ok) {
    const body = response ? await response.json().catch(() => ({})) : {};
    const detail = typeof body.detail === "string" ? body.detail : "Could not sign in. Check your username and password.";
    view.signinError.textContent = detail;
    return;
  }
  view.password.value = "";
  useTokens(await response.json());
  auth.agent = await api("/api/admin/me");
  view.me.textContent = auth.agent.full_name || auth.agent.username;
  view.signinView.hidden = true;
  view.appView.hidden = false;
  view.account.hidden = false;
  await Promise.all([loadMine(), loadHistory(0)]);
  connect();
}

function signOut(message) {
  if (auth && auth.refresh && typeof message !== "string") {
    // This sign-in's refresh tokens stop working on the server too.
    fetch("/api/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: auth.refresh }),
      keepalive: true,
    }).catch(() => {});
  }
  auth = null;
  clearTimeout(refreshTimer);
  clearTimeout(retryTimer);
  if (socket) { const s = socket; socket = null; s.close(1000); }
  for (const map of [queue, reasons, summaries, mine, pending]) map.clear();
  claiming.clear();
  current = null;
  lastId = 0;
  for (const list of [view.queue, view.mine, view.history, view.transcript]) list.replaceChildren();
  view.conversation.hidden = true;
  view.appView.hidden = true;
  view.account.hidden = true;
  view.signinView.hidden = false;
  view.signinError.textContent = typeof message === "string" ? message : "";
  view.username.focus();
}

// ---------------------------------------------------------------- socket
function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(frame));
    return true;
  }
  toast("Not connected: reconnecting…");
  return false;
}

function connect() {
  clearTimeout(retryTimer);
  if (!auth) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws/admin?token=${encodeURIComponent(auth.access)}&after=${lastId}`);
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    view.connection.textContent = "";
    for (const entry of pending.values()) {
      send({ type: "message", session_id: entry.session, content: entry.content, client_msg_id: entry.id });
    }
  };
  ws.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    handle(frame);
  };
  ws.onclose = async (event) => {
    if (socket !== ws || !auth) return;
    socket = null;
    view.connection.textContent = "Connection lost. Reconnecting…";
    if (event.code === 4001 && !(await renew())) return;
    const delay = Math.min(10000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    retryTimer = setTimeout(() => { loadMine().catch(() => {}); connect(); }, delay);
  };
}

function handle(frame) {
  switch (frame.type) {
    case "connected":
    case "queue_update":
      setQueue(frame.queued_sessions || []);
      break;
    case "new_session_queued":
      if (frame.reason) reasons.set(frame.session_id, frame.reason);
      summaries.set(frame.session_id, frame.summary);
      notify();
      break;
    case "session_summary":
      summaries.set(frame.session_id, frame.summary);
      renderQueue();
      if (current && current.id === frame.session_id) showSummary(frame.summary);
      break;
    case "session_claimed":
      claiming.delete(frame.session_id);
      queue.delete(frame.session_id);
      renderQueue();
      adopt(frame.session_id, true);
      loadHistory(historyOffset).catch(() => {});
      break;
    case "session_claimed_by_other":
      queue.delete(frame.session_id);
      renderQueue();
      if (claiming.delete(frame.session_id)) {
        toast(`${frame.agent_name} (${frame.agent_username}) claimed this customer first.`);
      }
      break;
    case "message":
      received(frame);
      break;
    case "typing":
      if (current && current.id === frame.session_id) {
        view.typing.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { view.typing.hidden = true; }, 4000);
      }
      break;
    case "ack":
      acknowledged(frame);
      break;
    case "session_closed":
      letGo(frame.session_id, "This conversation is closed.");
      loadHistory(historyOffset).catch(() => {});
      break;
    case "session_released":
      letGo(frame.session_id, "You handed this conversation on.");
      break;
    case "error":
      for (const id of claiming) if (frame.agent_name) claiming.delete(id);
      toast(frame.agent_name
        ? `Already claimed by ${frame.agent_name} (${frame.agent_username}).`
        : frame.message || "That did not work.");
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- queue
function setQueue(sessions) {
  const before = new Set(queue.keys());
  queue.clear();
  for (const s of sessions) {
    queue.set(s.session_id, s);
    if (s.summary) summaries.set(s.session_id, s.summary);
  }
  if ([...queue.keys()].some((id) => !before.has(id)) && before.size + sessions.length > 0) notify();
  renderQueue();
}

function waited(since) {
  if (!since) return "";
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60000));
  return minutes < 1 ? "waiting less than a minute" : `waiting ${minutes} min`;
}

function renderQueue() {
  view.queueCount.textContent = String(queue.size);
  view.queue.replaceChildren(...[...queue.values()].map((entry) => {
    const reason = reasons.get(entry.session_id);
    const claim = el("button", { type: "button", class: "primary", text: "Claim" });
    claim.addEventListener("click", () => {
      claiming.add(entry.session_id);
      send({ type: "claim_session", session_id: entry.session_id });
    });
    const who = el("div", { class: "who" },
      el("span", { class: "name", text: entry.client_name || "Customer" }),
      el("span", { class: "meta", text: waited(entry.queued_at) }));
    if (reason) who.append(el("span", { class: "meta", text: `Assistant: ${reason}` }));
    const summary = summaries.get(entry.session_id);
    if (summary) who.append(el("span", { class: "summary-line", text: summary }));
    return el("li", {}, who, claim);
  }));
}

// ---------------------------------------------------------------- my conversations
async function loadMine() {
  const sessions = await api("/api/admin/active");
  const held = new Set(sessions.map((s) => s.session_id));
  for (const id of [...mine.keys()]) if (!held.has(id)) mine.delete(id);
  for (const session of sessions) {
    const known = mine.get(session.session_id);
    if (known) known.session = session;
    else mine.set(session.session_id, { session, messages: new Map(), unread: 0, loaded: false });
  }
  renderMine();
}

async function adopt(sessionId, open) {
  const session = await api(`/api/sessions/${sessionId}`);
  if (!mine.has(sessionId)) mine.set(sessionId, { session, messages: new Map(), unread: 0, loaded: false });
  renderMine();
  if (open) await show(sessionId, true);
}

function renderMine() {
  view.mine.replaceChildren(...[...mine.values()].map(({ session, unread }) => {
    const open = el("button", { type: "button", class: "link" },
      el("span", { class: "who" },
        el("span", { class: "name", text: session.client_info.name }),
        el("span", { class: "meta", text: session.client_info.email })));
    open.addEventListener("click", () => show(session.session_id, true));
    const item = el("li", { class: current && current.id === session.session_id ? "open" : "" }, open);
    if (unread) item.append(el("span", { class: "unread", text: String(unread), "aria-label": `${unread} unread` }));
    return item;
  }));
}

function received(message) {
  lastId = Math.max(lastId, Number(message.id) || 0);
  const held = mine.get(message.session_id);
  if (!held) return;
  if (held.messages.has(message.id)) return;
  held.messages.set(message.id, message);
  if (current && current.id === message.session_id && !document.hidden) {
    view.typing.hidden = true;
    line(message);
  } else {
    held.unread += 1;
    renderMine();
    if (current && current.id === message.session_id) line(message);
  }
  if (message.sender_type === "CLIENT") {
    notify();
    if (current && current.id === message.session_id && current.held) loadSuggestions(message.session_id);
  }
}

function letGo(sessionId, text) {
  mine.delete(sessionId);
  queue.delete(sessionId);
  renderMine();
  renderQueue();
  if (current && current.id === sessionId && current.held) {
    view.transcript.append(el("p", { class: "notice", text }));
    readOnly(true);
    current.held = false;
  }
}

// ---------------------------------------------------------------- transcript
function readOnly(yes) {
  view.actions.hidden = yes;
  view.replyForm.hidden = yes;
}

function line(message) {
  const kind = SENDERS[message.sender_type] || "ai";
  const body = el("div", { class: "text" });
  linkify(body, kind === "ai" ? reflow(message.content) : message.content);
  const node = el("div", { class: `msg ${kind}`, "data-id": String(message.id ?? "") },
    el("span", { class: "who", text: WHO[kind] }), body);
  view.transcript.append(node);
  view.transcript.scrollTop = view.transcript.scrollHeight;
  return node;
}

async function show(sessionId, held) {
  current = { id: sessionId, held };
  view.conversation.hidden = false;
  view.typing.hidden = true;
  readOnly(!held);
  view.transcript.replaceChildren();
  const [session, messages] = await Promise.all([
    api(`/api/sessions/${sessionId}`),
    api(`/api/sessions/${sessionId}/messages`),
  ]);
  if (!current || current.id !== sessionId) return;
  const info = session.client_info;
  view.title.textContent = info.name;
  view.details.textContent = `${info.email} · ${info.phone} · ${session.state}`;
  showSummary(session.summary || summaries.get(sessionId));
  if (held) loadSuggestions(sessionId);
  else view.suggestionsBox.hidden = true;
  view.transcript.replaceChildren();
  const entry = mine.get(sessionId);
  for (const message of messages) {
    line(message);
    if (entry) entry.messages.set(message.id, message);
    lastId = Math.max(lastId, message.id);
  }
  for (const reply of pending.values()) if (reply.session === sessionId) reply.node = pendingLine(reply);
  if (entry) { entry.unread = 0; }
  renderMine();
  // On a narrow screen the conversation is below the lists: bring it into view.
  if (window.innerWidth <= 720) view.conversation.scrollIntoView({ block: "start" });
  if (held) view.reply.focus({ preventScroll: window.innerWidth <= 720 });
}

function showSummary(text) {
  view.summary.hidden = !text;
  view.summary.textContent = text ? `Summary: ${text}` : "";
}

// ---------------------------------------------------------------- agent assist
async function loadSuggestions(sessionId) {
  let found = [];
  try {
    found = await api(`/api/admin/sessions/${sessionId}/suggestions`);
  } catch {
    found = [];
  }
  if (!current || current.id !== sessionId) return;
  view.suggestionsBox.hidden = found.length === 0;
  view.suggestions.replaceChildren(...found.map((passage) => {
    const use = el("button", { type: "button", class: "secondary", text: "Use",
      "aria-label": `Use the passage “${passage.heading}”` });
    use.addEventListener("click", () => {
      view.reply.value = passage.text;
      view.reply.focus();
    });
    return el("li", { class: "suggestion" },
      el("div", { class: "who" },
        el("span", { class: "name", text: passage.heading }),
        el("span", { class: "passage", text: passage.text })),
      use);
  }));
}

function pendingLine(reply) {
  const node = line({ sender_type: "ADMIN", content: reply.content });
  node.append(el("span", { class: "state", text: "Sending…" }));
  return node;
}

function acknowledged(ack) {
  const reply = pending.get(ack.client_msg_id);
  if (!reply) return;
  pending.delete(ack.client_msg_id);
  lastId = Math.max(lastId, ack.id);
  const held = mine.get(reply.session);
  if (held) held.messages.set(ack.id, { id: ack.id, sender_type: "ADMIN", content: reply.content });
  if (reply.node) {
    reply.node.dataset.id = String(ack.id);
    const mark = reply.node.querySelector(".state");
    if (mark) mark.remove();
  }
}

function sendReply(event) {
  event.preventDefault();
  const content = view.reply.value.trim();
  if (!content || !current || !current.held) return;
  const id = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
  const reply = { id, session: current.id, content };
  reply.node = pendingLine(reply);
  pending.set(id, reply);
  view.reply.value = "";
  lastTyping = 0; // the next keystroke announces typing again
  send({ type: "message", session_id: current.id, content, client_msg_id: id });
}

let lastTyping = 0;
function typingNow() {
  const now = Date.now();
  if (current && current.held && now - lastTyping > 2500 && view.reply.value.trim()) {
    lastTyping = now;
    send({ type: "typing", session_id: current.id });
  }
}

// ---------------------------------------------------------------- history
async function loadHistory(offset) {
  const sessions = await api(`/api/admin/all-sessions?limit=${HISTORY_PAGE}&offset=${offset}`);
  historyOffset = offset;
  view.newer.disabled = offset === 0;
  view.older.disabled = sessions.length < HISTORY_PAGE;
  view.history.replaceChildren(...sessions.map((session) => {
    const open = el("button", { type: "button", class: "link" },
      el("span", { class: "who" },
        el("span", { class: "name", text: session.client_info.name }),
        el("span", { class: "meta", text: `${session.state} · ${new Date(session.created_at).toLocaleString()}` })));
    open.addEventListener("click", () => show(session.session_id, mine.has(session.session_id)));
    return el("li", {}, open);
  }));
}

// ---------------------------------------------------------------- notices
function toast(text) {
  view.toast.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { view.toast.textContent = ""; }, 6000);
}

let audio = null;
function notify() {
  if (!document.hidden) return;
  unseen += 1;
  document.title = `(${unseen}) ${BASE_TITLE}`;
  if (!view.sound.checked) return;
  try {
    audio = audio || new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.08;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.15);
  } catch { /* no audio here */ }
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  unseen = 0;
  document.title = BASE_TITLE;
  if (current) {
    const entry = mine.get(current.id);
    if (entry && entry.unread) { entry.unread = 0; renderMine(); }
  }
});

// ---------------------------------------------------------------- wiring
view.signin.addEventListener("submit", (event) => { signIn(event).catch(() => toast("Could not sign in.")); });
view.signout.addEventListener("click", () => signOut());
view.replyForm.addEventListener("submit", sendReply);
view.reply.addEventListener("input", typingNow);
view.reply.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendReply(event);
});
view.release.addEventListener("click", () => current && send({ type: "release_session", session_id: current.id }));
view.returnToAi.addEventListener("click", () => current && send({ type: "return_to_ai", session_id: current.id }));
view.close.addEventListener("click", () => current && send({ type: "close_session", session_id: current.id }));
view.newer.addEventListener("click", () => loadHistory(Math.max(0, historyOffset - HISTORY_PAGE)));
view.older.addEventListener("click", () => loadHistory(historyOffset + HISTORY_PAGE));
setInterval(() => { if (queue.size) renderQueue(); }, 30000);
view.username.focus();
