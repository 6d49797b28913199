// Herald's dashboard: the admin API read from the page, nothing else. The
// operator logs in with the admin token and sees every account; an account
// logs in with its id and secret and sees its own. The credential stays in
// this tab (sessionStorage).

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
const nf = new Intl.NumberFormat();
const num = (n) => nf.format(n);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// The credential: {operator: token} or {account: id, secret}.
function credential() {
  const raw = sessionStorage.getItem("herald.dashboard");
  return raw ? JSON.parse(raw) : null;
}

function authHeader(c) {
  return c.operator ? `Bearer ${c.operator}` : `Basic ${btoa(`${c.account}:${c.secret}`)}`;
}

async function api(path) {
  const c = credential();
  const res = await fetch(path, { headers: { Authorization: authHeader(c) } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.error || `${res.status} ${res.statusText}`), { status: res.status });
  return body;
}

function showError(e) {
  if (e.status === 401) {
    sessionStorage.removeItem("herald.dashboard");
    route();
    return;
  }
  main.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
}

function login() {
  $("#who").textContent = "";
  $("#logout").hidden = true;
  const err = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "login", id: "login" },
    el("h2", {}, "Log in"),
    el("fieldset", {},
      el("legend", {}, "Operator"),
      el("label", { for: "token" }, "Admin token (herald-data/admin.token)"),
      el("input", { id: "token", name: "token", type: "password", autocomplete: "off" })),
    el("fieldset", {},
      el("legend", {}, "…or an account"),
      el("label", { for: "account" }, "Account id"),
      el("input", { id: "account", name: "account", inputmode: "numeric", autocomplete: "off" }),
      el("label", { for: "secret" }, "Publisher secret"),
      el("input", { id: "secret", name: "secret", type: "password", autocomplete: "off" })),
    el("button", { class: "primary", type: "submit", id: "enter" }, "Log in"),
    err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    const c = token ? { operator: token } : { account: Number($("#account").value), secret: $("#secret").value.trim() };
    sessionStorage.setItem("herald.dashboard", JSON.stringify(c));
    try {
      await api(c.operator ? "/v1/accounts?limit=1" : `/v1/accounts/${c.account}`);
      location.hash = c.operator ? "#/" : `#/accounts/${c.account}`;
      route();
    } catch (e) {
      sessionStorage.removeItem("herald.dashboard");
      err.textContent = e.status === 401 || e.status === 403 ? "Wrong token or credential." : e.message;
    }
  });
  main.replaceChildren(form);
}

async function accounts() {
  main.replaceChildren(el("h2", {}, "Accounts"), el("p", { class: "muted" }, "Loading…"));
  const rows = [];
  let after = 0;
  for (;;) {
    const page = await api(`/v1/accounts?after=${after}&limit=1000`);
    rows.push(...page.accounts);
    if (page.next_after === undefined || rows.length >= 5000) break;
    after = page.next_after;
  }
  if (rows.length === 0) {
    main.replaceChildren(el("h2", {}, "Accounts"),
      el("p", { class: "empty" }, "No accounts yet. Create one: herald account create --name news --tier verified"));
    return;
  }
  const table = el("table", { id: "accounts" },
    el("thead", {}, el("tr", {}, el("th", {}, "Account"), el("th", { class: "left" }, "Name"), el("th", { class: "left" }, "Tier"), el("th", {}, "Followers"))),
    el("tbody", {}, rows.map((a) => el("tr", { "data-id": a.id },
      el("td", {}, el("a", { href: `#/accounts/${a.id}` }, `#${a.id}`)),
      el("td", { class: "left" }, a.name), el("td", { class: "left" }, a.tier), el("td", {}, num(a.followers))))));
  main.replaceChildren(el("h2", {}, `Accounts (${num(rows.length)})`), el("div", { class: "scroll" }, table));
}

// chart draws the days' new follows (up) and unfollows (down) as bars and
// the follower count as a line.
function chart(days) {
  const W = 600, H = 220, pad = 28;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "follower growth");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const maxBar = Math.max(1, ...days.map((d) => Math.max(d.new, d.unfollows)));
  const cum = days.map((d) => d.cumulative);
  const lo = Math.min(...cum), hi = Math.max(...cum, lo + 1);
  const step = (W - 2 * pad) / days.length;
  const mid = H / 2;
  add("line", { class: "axis", x1: pad, x2: W - pad, y1: mid, y2: mid });
  days.forEach((d, i) => {
    const x = pad + i * step + step * 0.15, w = step * 0.7;
    const up = (d.new / maxBar) * (mid - pad), down = (d.unfollows / maxBar) * (mid - pad);
    if (up > 0) add("rect", { class: "new", x, y: mid - up, width: w, height: up, "data-day": d.day }).append(Object.assign(document.createElementNS(ns, "title"), { textContent: `${d.day}: +${num(d.new)}` }));
    if (down > 0) add("rect", { class: "gone", x, y: mid, width: w, height: down }).append(Object.assign(document.createElementNS(ns, "title"), { textContent: `${d.day}: −${num(d.unfollows)}` }));
  });
  const y = (v) => H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
  add("polyline", { class: "cum", points: days.map((d, i) => `${pad + (i + 0.5) * step},${y(d.cumulative)}`).join(" ") });
  add("text", { x: pad, y: 12 }, `${num(hi)} followers`);
  add("text", { x: pad, y: H - 6 }, days[0].day);
  add("text", { x: W - pad, y: H - 6, "text-anchor": "end" }, days[days.length - 1].day);
  return svg;
}

async function account(id) {
  main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  const [a, stats] = await Promise.all([api(`/v1/accounts/${id}`), api(`/v1/accounts/${id}/stats/followers`)]);
  const days = stats.days;
  const sum = (k) => days.reduce((n, d) => n + d[k], 0);
  const sources = {};
  for (const d of days) for (const [s, n] of Object.entries(d.by_source)) sources[s || "(none)"] = (sources[s || "(none)"] || 0) + n;
  const card = (k, n, id) => el("div", { class: "card" }, el("div", { class: "n", id }, n), el("div", { class: "k" }, k));
  const back = credential().operator ? el("p", {}, el("a", { href: "#/" }, "← all accounts")) : "";
  const parts = [back,
    el("h2", {}, `${a.name} `, el("span", { class: "muted" }, `#${a.id} · ${a.tier}`)),
    el("div", { class: "cards" },
      card("followers", num(a.followers), "followers"),
      card("online now", "…", "online"),
      card(`new, ${days.length} days`, num(sum("new")), "new"),
      card("unfollows", num(sum("unfollows")), "unfollows"),
      card("net", (sum("net") >= 0 ? "+" : "") + num(sum("net")), "net")),
    el("h3", {}, "Follower growth"),
    el("div", { class: "legend" }, el("span", {}, el("i", { style: "background:var(--good)" }), "new"), el("span", {}, el("i", { style: "background:var(--bad)" }), "unfollows"), el("span", {}, el("i", { style: "background:var(--accent)" }), "followers")),
  ];
  if (sum("new") + sum("unfollows") === 0 && a.followers === 0) {
    parts.push(el("p", { class: "empty", id: "no-followers" }, `No followers yet. Import some: seq 1 1000 | herald follow import --account ${a.id} --source import -`));
  } else {
    parts.push(chart(days));
  }
  const srcRows = Object.entries(sources).sort((x, y) => y[1] - x[1]);
  parts.push(el("h3", {}, "New follows by source"),
    srcRows.length === 0 ? el("p", { class: "empty" }, "None in these days.") :
      el("table", { id: "sources" }, el("tbody", {}, srcRows.map(([s, n]) => el("tr", { "data-source": s }, el("td", {}, s), el("td", {}, num(n)))))),
    el("h3", {}, "By day"),
    el("p", { class: "muted" }, "Today and the days with changes, newest first (UTC)."),
    el("div", { class: "scroll" }, el("table", { id: "days" },
      el("thead", {}, el("tr", {}, el("th", {}, "Day"), el("th", {}, "New"), el("th", {}, "Unfollows"), el("th", {}, "Net"), el("th", {}, "Followers"))),
      el("tbody", {}, [...days].reverse().filter((d, i) => i === 0 || d.new > 0 || d.unfollows > 0).map((d) => el("tr", { "data-day": d.day },
        el("td", {}, d.day), el("td", {}, num(d.new)), el("td", {}, num(d.unfollows)), el("td", {}, (d.net > 0 ? "+" : "") + num(d.net)), el("td", {}, num(d.cumulative))))))));
  parts.push(el("h3", {}, "Broadcasts"), el("div", { id: "broadcasts-box" }, el("p", { class: "muted" }, "Loading…")),
    el("h3", {}, "Broadcasts by day"), el("div", { id: "bdays-box" }));
  main.replaceChildren(...parts.filter(Boolean));
  await Promise.all([broadcasts(id), online(id)]);
  refresh = () => Promise.all([broadcasts(id), online(id)]);
}

// online shows how many of the account's followers are connected now.
async function online(id) {
  const o = await api(`/v1/accounts/${id}/online`);
  const n = $("#online");
  if (n) n.textContent = num(o.online_followers);
}

// rel is how long ago an RFC 3339 time was, in words.
function rel(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// pct is n of of as a percentage: "–" of nothing, "<1%" for a few.
function pct(n, of) {
  if (!(of > 0)) return "–";
  const r = (100 * n) / of;
  return r > 0 && r < 1 ? "<1%" : `${Math.round(r)}%`;
}

// funnel draws recipients → sent live → delivered → opened as bars.
function funnel(b) {
  const steps = [["recipients", b.recipients], ["sent live", b.sent_live], ["delivered", b.delivered], ["opened", b.opened]];
  const top = Math.max(1, b.recipients);
  return el("div", { class: "funnel", "data-id": b.id }, steps.map(([k, n]) => el("div", { class: "step", "data-step": k.replace(" ", "-") },
    el("span", { class: "k" }, k),
    el("span", { class: "bar" }, el("i", { style: `width:${Math.min(100, (100 * n) / top)}%` })),
    el("span", { class: "n" }, `${num(n)} · ${pct(n, b.recipients)}`))));
}

// broadcasts fills the account's broadcasts table and its days; it runs
// again every few seconds while the page is shown, so the counts move
// without a reload.
async function broadcasts(id) {
  const [page, days] = await Promise.all([api(`/v1/accounts/${id}/broadcasts?limit=20`), api(`/v1/accounts/${id}/stats/broadcasts`)]);
  const box = $("#broadcasts-box"), dbox = $("#bdays-box");
  if (!box || !dbox) return;
  if (page.broadcasts.length === 0) {
    box.replaceChildren(el("p", { class: "empty", id: "no-broadcasts" }, `No broadcasts yet. Publish one: herald publish --account ${id} --secret … hello followers`));
  } else {
    box.replaceChildren(el("div", { class: "scroll" }, el("table", { id: "broadcasts" },
      el("thead", {}, el("tr", {}, el("th", {}, "Broadcast"), el("th", { class: "left" }, "Sent"), el("th", {}, "Recipients"),
        el("th", {}, "Sent live"), el("th", {}, "Delivered"), el("th", {}, "Opened"), el("th", {}, "Filtered"))),
      el("tbody", {}, page.broadcasts.map((b) => el("tr", { "data-id": b.id },
        el("td", {}, el("a", { href: `#/accounts/${id}/broadcasts/${b.id}` }, `#${b.id}`), b.retracted ? " (retracted)" : "", b.preview ? " (preview)" : ""),
        el("td", { class: "left", title: b.published_at }, rel(b.published_at)),
        el("td", { class: "recipients" }, num(b.recipients)),
        el("td", { class: "sent" }, num(b.sent_live)),
        el("td", { class: "delivered" }, num(b.delivered)),
        el("td", { class: "opened" }, num(b.opened)),
        el("td", { class: "filtered", title: `not selected ${num(b.filtered.not_selected)}, blocked ${num(b.filtered.blocked)}, at the cap ${num(b.filtered.capped)}` },
          num(b.filtered.not_selected + b.filtered.blocked + b.filtered.capped))))))),
    funnel(page.broadcasts[0]));
  }
  const rows = [...days.days].reverse();
  dbox.replaceChildren(rows.length === 0 ? el("p", { class: "empty" }, "None in these days.") :
    el("div", { class: "scroll" }, el("table", { id: "bdays" },
      el("thead", {}, el("tr", {}, el("th", {}, "Day"), el("th", {}, "Broadcasts"), el("th", {}, "Recipients"), el("th", {}, "Delivered"), el("th", {}, "Opened"), el("th", {}, "Delivery rate"))),
      el("tbody", {}, rows.map((d) => el("tr", { "data-day": d.day },
        el("td", {}, d.day), el("td", {}, num(d.broadcasts)), el("td", {}, num(d.recipients)), el("td", {}, num(d.delivered)),
        el("td", {}, num(d.opened)), el("td", {}, pct(d.delivered, d.recipients))))))));
}

// curve draws how many were delivered by each point after the publish.
function curve(b) {
  const W = 600, H = 180, pad = 28;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "delivery curve");
  const names = { 1: "1 s", 10: "10 s", 60: "1 min", 3600: "1 h", 86400: "1 day" };
  const top = Math.max(1, ...b.curve.map((p) => p.delivered)); // the tallest bar fills the chart
  const step = (W - 2 * pad) / b.curve.length;
  b.curve.forEach((p, i) => {
    const h = (p.delivered / top) * (H - 2 * pad);
    const r = document.createElementNS(ns, "rect");
    for (const [k, v] of Object.entries({ class: "new", x: pad + i * step + step * 0.2, y: H - pad - h, width: step * 0.6, height: h, "data-seconds": p.seconds })) r.setAttribute(k, v);
    svg.append(r);
    for (const [y, text] of [[H - 8, names[p.seconds] || `${p.seconds} s`], [H - pad - h - 4, num(p.delivered)]]) {
      const t = document.createElementNS(ns, "text");
      for (const [k, v] of Object.entries({ x: pad + (i + 0.5) * step, y, "text-anchor": "middle" })) t.setAttribute(k, v);
      t.textContent = text;
      svg.append(t);
    }
  });
  return svg;
}

async function broadcast(id, msg) {
  const b = await api(`/v1/accounts/${id}/broadcasts/${msg}`);
  const card = (k, n, cid) => el("div", { class: "card" }, el("div", { class: "n", id: cid }, n), el("div", { class: "k" }, k));
  main.replaceChildren(el("p", {}, el("a", { href: `#/accounts/${id}` }, "← the account")),
    el("h2", {}, `Broadcast #${b.id} `, el("span", { class: "muted", title: b.published_at }, `${rel(b.published_at)} · ${b.state}${b.retracted ? " · retracted" : ""}`)),
    el("div", { class: "cards" },
      card("recipients", num(b.recipients), "b-recipients"),
      card("delivered", num(b.delivered), "b-delivered"),
      card("opened", num(b.opened), "b-opened"),
      card("caught up later", num(b.caught_up), "b-caught-up")),
    el("h3", {}, "Reach"), funnel(b),
    el("h3", {}, "Delivered after the publish"), curve(b),
    el("h3", {}, "Left out"),
    el("table", { id: "filtered" }, el("tbody", {},
      el("tr", {}, el("td", {}, "not in the list or tags"), el("td", {}, num(b.filtered.not_selected))),
      el("tr", {}, el("td", {}, "blocked"), el("td", {}, num(b.filtered.blocked))),
      el("tr", {}, el("td", {}, "at the monthly cap"), el("td", {}, num(b.filtered.capped))))),
    b.analytics ? "" : el("p", { class: "muted" }, "Published with analytics off: only the delivery counts are known."));
  refresh = () => broadcast(id, msg);
}

// refresh re-reads the page's figures (set by the page shown).
let refresh = null;

async function route() {
  const c = credential();
  if (!c) return login();
  $("#who").textContent = c.operator ? "operator" : `account ${c.account}`;
  $("#logout").hidden = false;
  refresh = null;
  const m = location.hash.match(/^#\/accounts\/(\d+)(?:\/broadcasts\/(\d+))?/);
  try {
    if (m && m[2]) await broadcast(m[1], m[2]);
    else if (m) await account(m[1]);
    else if (c.operator) await accounts();
    else location.hash = `#/accounts/${c.account}`;
  } catch (e) {
    showError(e);
  }
}

// Live figures, from /healthz (no credential needed): clients connected
// and deliveries a second, refreshed every 2 s without reloading.
let last;
async function live() {
  try {
    const h = await (await fetch("/healthz")).json();
    const now = performance.now();
    const rate = last ? ((h.deliveries - last.deliveries) * 1000) / (now - last.at) : 0;
    last = { deliveries: h.deliveries, at: now };
    if (refresh) await refresh().catch(() => {});
    $("#live").textContent = `Live: ${num(h.connections)} connections · ${num(Math.round(rate))} deliveries/s · ${num(h.publishes)} publishes since start · ${h.status}`;
  } catch {
    $("#live").textContent = "Live: the server does not answer";
  }
}

$("#logout").addEventListener("click", () => {
  sessionStorage.removeItem("herald.dashboard");
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
live();
setInterval(live, 2000);
