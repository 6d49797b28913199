// The demo page: one Subscriber, its messages listed newest first.
import { Subscriber, localStorageStore } from "./sdk/index.js";

const $ = (id) => document.getElementById(id);
const list = $("messages");
const status = $("status");
const store = localStorageStore("herald.demo.cursor");
const shown = new Map(); // message id → its list item
let sub;

function setStatus(state, text = state) {
  status.dataset.state = state;
  status.textContent = text;
}

function showError(e) {
  $("error").textContent = e ? String(e.message ?? e) : "";
}

function show(m) {
  list.querySelector(".empty")?.remove();
  const li = document.createElement("li");
  li.dataset.id = String(m.id);
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = `#${m.id} from account ${m.account.toLocaleString()} · ${m.time.toLocaleString()}`;
  const body = document.createElement("div");
  body.className = "text";
  const text = m.contentType === "" || m.contentType.startsWith("text/") || m.contentType === "application/json";
  body.textContent = text ? m.text() : `${m.payload.length.toLocaleString()} bytes of ${m.contentType}`;
  li.append(meta, body);
  list.prepend(li);
  shown.set(String(m.id), li);
}

$("connect").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError();
  await sub?.close();
  const token = $("token").value.trim();
  try {
    const config = await (await fetch("config.json")).json();
    setStatus("connecting");
    sub = await Subscriber.connect({
      url: config.ws,
      token,
      store,
      onMessage: show,
      onRetracted: (r) => shown.get(String(r.id))?.classList.add("retracted"),
      onStateChange: (s) => setStatus(s),
      onError: (e) => showError(e),
      onHistoryMissed: () => showError("some broadcasts were removed before this browser caught up"),
    });
    setStatus(sub.state, `live as user ${sub.user}`);
    showError();
  } catch (e) {
    setStatus("closed", "refused");
    showError(e);
  }
});

$("forget").addEventListener("click", () => {
  store.save("");
  showError("cursor forgotten: the next subscribe replays everything retained");
});
