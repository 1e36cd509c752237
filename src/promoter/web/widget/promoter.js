/* Promoter's in-app web survey (served at /w/promoter.js; see docs/web-survey.md).
 * No dependencies, no eval, no inline style: the widget lives in a shadow root styled by a
 * constructed stylesheet (a <style nonce> where those are missing). Nothing is sent
 * until a userId and its signature are known. */
(() => {
  "use strict";
  const w = window;
  const d = document;
  const me = d.currentScript || d.querySelector("script[data-site-key]");
  if (!me || (w.promoter && w.promoter.loaded)) return;
  const opt = me.dataset;
  const base = me.src.replace(/\/w\/promoter\.js([?#].*)?$/, "");
  const siteKey = opt.siteKey;
  const nonce = opt.nonce || me.nonce;
  const log = (...a) => "debug" in opt && console.debug("[promoter]", ...a);
  const HEX = /^[0-9a-f]{64}$/i;
  const RANGES = { detractors: [0, 6], passives: [7, 8], promoters: [9, 10] };

  let user = null; // {id, sig}
  let sig = null; // promoter('signature', ...): for the userId analytics.js knows
  const sigs = {}; // signatures seen in analytics.js calls' integrations.Promoter
  let pending = []; // track calls made before the visitor was known
  let chain = Promise.resolve();
  let checking = 0; // a survey check is coming
  let done = false; // a survey was shown on this page view
  let ui = null;

  const pageUrl = () => location.origin + location.pathname;

  // One call at a time, in the order made: an identify before its track, shown before a
  // dismiss. The caller handles the answer (or its failure).
  function post(path, body, keepalive) {
    const who = { site_key: siteKey, user_id: user.id, signature: user.sig, url: pageUrl() };
    const sent = chain.then(() => request(path, Object.assign(who, body), keepalive));
    chain = sent.catch(() => 0);
    return sent;
  }

  function request(path, body, keepalive) {
    return fetch(base + "/w/v1/" + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: !!keepalive,
      body: JSON.stringify(body),
    }).then((r) =>
      r.json().then(
        (j) => (r.ok ? j : Promise.reject(Object.assign(j, { status: r.status }))),
        () => Promise.reject({ status: r.status }),
      ),
    );
  }

  function identify(id, traits, options, announce) {
    if (id == null || id === "") return;
    id = String(id);
    const given = options && (options.signature || promoterOption(options));
    const s = [given, sigs[id], user && user.id === id && user.sig, sig].find(
      (v) => typeof v === "string" && HEX.test(v),
    );
    if (!s) return log("no signature for", id);
    if (user && user.id !== id) remove();
    user = { id, sig: s };
    const described = traits && typeof traits === "object" && Object.keys(traits).length;
    if (announce && described) post("identify", { traits }).catch(log);
    const tracks = pending;
    pending = [];
    tracks.forEach((t) => track(t[0], t[1]));
    check();
  }

  function promoterOption(o) {
    const p = o.integrations && o.integrations.Promoter;
    return p && p.signature;
  }

  function track(event, properties) {
    if (typeof event !== "string" || !event) return;
    if (!user) return pending.length < 20 && pending.push([event, properties]);
    post("track", { event, properties: properties || {} }).catch(log);
    check();
  }

  // Asks once the calls made in this task (an identify and a track, say) have been sent.
  function check() {
    if (!user || done || checking) return;
    checking = setTimeout(() => {
      checking = 0;
      if (done || !user) return;
      const languages = opt.language ? [opt.language] : [...(navigator.languages || [])];
      post("survey", { languages })
        .then((r) => r.survey && !done && open(r.survey))
        .catch(log);
    });
  }

  function reset() {
    remove();
    clearTimeout(checking);
    checking = 0;
    user = sig = null;
    pending = [];
  }

  const commands = {
    identify: (id, traits, options) => identify(id, traits, options, true),
    signature: (s) => {
      sig = s;
      if (hooked && !user) fromAnalytics();
    },
    track,
    show: check,
    reset,
  };

  function run(args) {
    const fn = commands[args[0]];
    if (fn) fn.apply(null, [].slice.call(args, 1));
    else log("unknown command", args[0]);
  }

  let hooked = false;
  function hook() {
    const a = w.analytics;
    if (hooked || !a || typeof a.ready !== "function") return;
    hooked = true;
    if (a.addSourceMiddleware) a.addSourceMiddleware(({ payload, next }) => {
      const e = payload.obj;
      const s = e && e.userId && promoterOption(e);
      if (s) sigs[e.userId] = s;
      next(payload);
    });
    a.on("identify", (id, traits, options) => identify(id, traits, options, true));
    a.on("track", (event, properties) => track(event, properties));
    a.on("reset", reset);
    a.ready(fromAnalytics);
  }

  // The userId analytics.js already knows (from an identify on an earlier page).
  function fromAnalytics() {
    let u;
    try {
      u = w.analytics.user();
    } catch (e) {
      return log(e);
    }
    Promise.resolve(u).then((found) => {
      const id = found && found.id && found.id();
      if (id && !(user && user.id === id)) identify(id, null, null, false);
    });
  }

  // The survey on the page.

  function el(tag, attrs, kids) {
    const e = d.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach((c) => c && e.append(c));
    return e;
  }

  function lum(hex) {
    const c = [1, 3, 5].map((i) => parseInt(hex.substr(i, 2), 16) / 255);
    const [r, g, b] = c.map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  // The brand colour, darkened as little as needed to read on white (4.5:1), as the pages do.
  function accent(hex) {
    const on = (h) => 1.05 / (lum(h) + 0.05) >= 4.5;
    if (on(hex)) return hex;
    const mix = (t) =>
      "#" +
      [1, 3, 5]
        .map((i) => Math.round(parseInt(hex.substr(i, 2), 16) * (1 - t)))
        .map((v) => v.toString(16).padStart(2, "0"))
        .join("");
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 20; i++) {
      const mid = (lo + hi) / 2;
      if (on(mix(mid))) hi = mid;
      else lo = mid;
    }
    return mix(hi);
  }

  function style(root, css) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.append(el("style", { nonce, text: css }));
    }
  }

  const safeUrl = (u) => {
    try {
      return /^https?:$/.test(new URL(u).protocol) ? u : null;
    } catch (e) {
      return null;
    }
  };

  function typing() {
    let a = d.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    if (!a) return false;
    const box = /^(button|submit|reset|checkbox|radio|image|range|color|file)$/;
    if (a.tagName === "INPUT") return !box.test(a.type);
    return a.isContentEditable || a.tagName === "TEXTAREA" || a.tagName === "SELECT";
  }

  function open(s) {
    if (!d.body) return d.addEventListener("DOMContentLoaded", () => open(s), { once: true });
    done = true;
    const t = s.text || {};
    const brand = s.brand || {};
    const hex = (c) => /^#[0-9a-f]{6}$/i.test(c || "");
    const color = hex(brand.color) ? brand.color : "#1f2933";
    const host = el("promoter-survey", { dir: s.dir === "rtl" ? "rtl" : "ltr" });
    const root = host.attachShadow({ mode: "open" });
    style(root, CSS + `:host{--brand:${color};--accent:${hex(brand.accent) ? brand.accent : accent(color)}}`);
    const state = { s, t, host, root, score: null, saved: null, timer: 0, answered: false };
    state.say = (...keys) => keys.map((k) => t[k]).find((v) => typeof v === "string") || "";
    const live = el("div", { class: "sr", "aria-live": "polite" });
    const card = build(state);
    root.append(live, card);
    ui = state;
    d.body.append(host);
    const quiet = typing();
    state.back = quiet ? null : d.activeElement;
    if (quiet) setTimeout(() => (live.textContent = t.question), 100);
    else state.buttons[0].focus({ preventScroll: true });
    requestAnimationFrame(() => {
      performance.mark("promoter:shown");
      post(`surveys/${s.token}/shown`, {}, true).catch(log);
    });
  }

  function build(state) {
    const { s, t } = state;
    const brand = s.brand || {};
    const logo = safeUrl(brand.logo_url);
    const buttons = [];
    for (let n = 0; n <= 10; n++) {
      buttons.push(
        el("button", {
          type: "button",
          role: "radio",
          "aria-checked": "false",
          tabindex: n ? "-1" : "0",
          class: n <= 6 ? "d" : n <= 8 ? "p" : "g",
          text: String(n),
          onclick: () => choose(state, n, true),
        }),
      );
    }
    state.buttons = buttons;
    const scale = el("div", { role: "radiogroup", class: "scale", "aria-labelledby": "pq" }, buttons);
    scale.addEventListener("keydown", (e) => arrows(state, e));
    state.status = el("p", { class: "st", role: "status" });
    state.comment = el("textarea", { id: "pc", maxlength: "5000", dir: "auto", placeholder: t.comment_placeholder });
    state.label = el("label", { for: "pc", class: "lb" });
    state.questions = (s.questions || []).map((q) => question(q, state.say));
    state.more = el(
      "form",
      { hidden: true, novalidate: true, onsubmit: (e) => (e.preventDefault(), send(state)) },
      [
        state.label,
        state.comment,
        ...state.questions.map((q) => q.box),
        el("div", { class: "ac" }, [el("button", { type: "submit", class: "send", text: state.say("send") || "Send" })]),
      ],
    );
    const close = el("button", {
      type: "button",
      class: "x",
      "aria-label": state.say("close") || "Close",
      text: "\u00d7",
      onclick: () => dismiss(state),
    });
    state.body = el("div", {}, [
      el("p", { id: "pq", class: "q", text: t.question }),
      scale,
      el("div", { class: "ends" }, [
        el("span", { text: `0 = ${state.say("low", "not_likely")}` }),
        el("span", { text: `10 = ${state.say("high", "very_likely")}` }),
      ]),
      state.status,
      state.more,
    ]);
    const card = el(
      "div",
      { class: "card", role: "dialog", "aria-modal": "false", "aria-labelledby": "pq", lang: s.language, dir: s.dir === "rtl" ? "rtl" : "ltr" },
      [close, logo && el("img", { class: "logo", src: logo, alt: state.say("logo_alt") || brand.name || "" }), state.body],
    );
    card.addEventListener("keydown", (e) => e.key === "Escape" && dismiss(state));
    return card;
  }

  function question(q, say) {
    const id = "q-" + q.id;
    const kind = q.kind || q.type;
    const err = el("p", { class: "err", id: id + "-e", hidden: true });
    let box;
    let value;
    if (kind === "text") {
      const input = el("textarea", { id, maxlength: "2000", dir: "auto", "aria-describedby": id + "-e" });
      box = el("div", { class: "qu" }, [el("label", { for: id, class: "lb", dir: "auto", text: q.text }), err, input]);
      value = () => (input.value.trim() ? [input.value] : []);
    } else {
      const options = kind === "scale" ? ["1", "2", "3", "4", "5"] : q.options || q.choices || [];
      const type = kind === "multiple" ? "checkbox" : "radio";
      const hint = say({ scale: "scale_ends", multiple: "choose_any", single: "choose_one" }[kind]);
      const inputs = options.map((o) => el("input", { type, name: id, value: o }));
      box = el("fieldset", { class: "qu", "aria-describedby": id + "-e" }, [
        el("legend", { class: "lb" }, [el("span", { dir: "auto", text: q.text }), hint && el("span", { class: "hi", text: hint })]),
        err,
        el("div", { class: "ch" },
          inputs.map((input, i) => el("label", {}, [input, el("span", { dir: "auto", text: options[i] })])),
        ),
      ]);
      value = () => inputs.filter((i) => i.checked).map((i) => i.value);
    }
    if (q.required) box.classList.add("req");
    return { q, box, err, value, focus: () => box.querySelector("textarea,input").focus() };
  }

  const category = (n) => (n <= 6 ? "detractor" : n <= 8 ? "passive" : "promoter");

  function choose(state, n, now) {
    state.score = n;
    state.buttons.forEach((b, i) => {
      b.setAttribute("aria-checked", String(i === n));
      b.tabIndex = i === n ? 0 : -1;
    });
    state.label.textContent = (state.t.comment || {})[category(n)] || state.say("comment_prompt");
    state.questions.forEach((q) => {
      const range = RANGES[q.q.audience];
      q.box.hidden = !!range && (n < range[0] || n > range[1]);
    });
    state.more.hidden = false;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => saveScore(state), now ? 0 : 600);
  }

  function saveScore(state) {
    clearTimeout(state.timer);
    const n = state.score;
    if (n === null || n === state.saved) return Promise.resolve();
    return post(`surveys/${state.s.token}/answer`, { score: n }).then(
      () => {
        state.saved = n;
        state.status.textContent = state.say("saved");
      },
      (e) => (e.status === 409 ? remove() : log(e)),
    );
  }

  function arrows(state, e) {
    const i = state.score === null ? state.buttons.indexOf(e.target) : state.score;
    const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: 10 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const n = Math.max(0, Math.min(10, to));
    choose(state, n, false);
    state.buttons[n].focus();
  }

  function send(state) {
    const answers = {};
    let wrong = null;
    state.questions.forEach((q) => {
      const v = q.box.hidden ? [] : q.value();
      const missing = q.q.required && !q.box.hidden && !v.length;
      q.err.hidden = !missing;
      q.err.textContent = missing ? state.say("required", "answer_required") || "Required" : "";
      if (missing && !wrong) wrong = q;
      if (v.length) answers[q.q.id] = v;
    });
    if (wrong) return wrong.focus();
    const comment = state.comment.value;
    const body = { score: state.score, answers };
    if (comment.trim()) body.comment = comment;
    clearTimeout(state.timer);
    post(`surveys/${state.s.token}/answer`, body).then(
      () => thanks(state),
      (e) => {
        if (e.status === 409) return remove();
        const fields = e.fields || {};
        const bad = state.questions.filter((q) => fields[q.q.id]);
        bad.forEach((q) => {
          q.err.hidden = false;
          q.err.textContent = fields[q.q.id];
        });
        if (bad.length) bad[0].focus();
        log(e);
      },
    );
  }

  function thanks(state) {
    state.answered = true;
    const link = safeUrl(state.s.thanks_url);
    const said = el("p", { class: "q", tabindex: "-1", text: state.say("thanks") || "Thank you!" });
    const kids = [said];
    if (link) {
      const u = new URL(link);
      kids.push(el("p", {}, [el("a", { href: link, target: "_blank", rel: "noopener", text: u.host + u.pathname })]));
    }
    const had = !!state.root.activeElement;
    state.body.replaceChildren(...kids);
    if (had) said.focus();
  }

  function dismiss(state) {
    if (state.score === null && !state.answered) {
      post(`surveys/${state.s.token}/dismiss`, {}, true).catch(log);
    } else if (!state.answered) saveScore(state).catch(log);
    remove();
  }

  function remove() {
    if (!ui) return;
    const { host, root, back } = ui;
    clearTimeout(ui.timer);
    const had = !!root.activeElement;
    ui = null;
    host.remove();
    if (had && back && back.isConnected && back.focus) back.focus();
  }

  const CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483000!important;bottom:16px!important;right:16px!important;width:380px!important;max-width:calc(100vw - 32px)!important}
:host([dir=rtl]){right:auto!important;left:16px!important}
*,::before,::after{box-sizing:border-box}
[hidden]{display:none!important}
.card{position:relative;max-height:calc(100vh - 32px);overflow:auto;background:#fff;color:#1f2933;font:16px/1.5 Helvetica,Arial,sans-serif;text-align:start;border-top:6px solid var(--brand);border-radius:8px;box-shadow:0 6px 24px rgba(31,41,51,.3);padding:16px;animation:pin .3s ease-out}
@keyframes pin{from{transform:translateY(24px);opacity:0}to{transform:none;opacity:1}}
@media (prefers-reduced-motion:reduce){.card{animation:none}}
@media (max-width:600px){:host{right:0!important;left:0!important;bottom:0!important;width:auto!important;max-width:none!important}.card{border-radius:12px 12px 0 0;max-height:85vh;padding:16px 16px 20px}}
.q{font-size:17px;line-height:24px;font-weight:bold;margin:0 36px 12px 0}
.card[dir=rtl] .q{margin:0 0 12px 36px}
.q:focus{outline:none}
button,input,textarea{font:inherit;color:inherit;margin:0}
.x{position:absolute;top:6px;right:6px;width:36px;height:36px;border:0;border-radius:4px;background:transparent;color:#52606d;font-size:24px;line-height:1;cursor:pointer}
.card[dir=rtl] .x{right:auto;left:6px}
.scale{display:grid;grid-template-columns:repeat(11,1fr);gap:3px;direction:ltr}
.scale button{min-height:40px;padding:0;font-weight:bold;border:2px solid transparent;border-radius:4px;cursor:pointer}
.d{background:#fde8e7;color:#912018}.p{background:#fef0c7;color:#7a2e0e}.g{background:#dcfae6;color:#085d3a}
.d[aria-checked=true]{background:#cf1124;color:#fff}.p[aria-checked=true]{background:#f0b429;color:#1f2933}.g[aria-checked=true]{background:#147d64;color:#fff}
.scale [aria-checked=true]{border-color:#1f2933}
button:focus-visible,textarea:focus-visible,a:focus-visible,.ch label:has(input:focus-visible){outline:3px solid var(--accent);outline-offset:2px}
.ends{display:flex;justify-content:space-between;gap:8px;margin-top:4px;font-size:13px;color:#52606d;direction:ltr}
.ends span:last-child{text-align:right}
.st{margin:8px 0 0;font-size:14px;font-weight:bold}
.st:empty{display:none}
form{margin:12px 0 0}
.lb{display:block;font-weight:bold;margin:0 0 6px;padding:0}
textarea{display:block;width:100%;min-height:80px;padding:8px;border:1px solid #7b8794;border-radius:4px;background:#fff;resize:vertical}
.qu{border:0;padding:0;margin:12px 0 0;min-width:0}
.ch label{display:inline-flex;align-items:center;gap:6px;margin:0 12px 6px 0;min-height:32px;cursor:pointer}
.ch input{accent-color:var(--accent);width:18px;height:18px}
.err{color:#ab091e;font-weight:bold;margin:4px 0}
.hi{display:block;font-size:14px;font-weight:normal;color:#52606d}
.ac{margin-top:12px}
.send{min-height:44px;padding:8px 20px;font-weight:bold;border:2px solid var(--accent);border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
.logo{display:block;height:32px;max-width:70%;margin:0 0 10px}
a{color:var(--accent)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:600px){.scale button{min-height:44px}}`;

  const queued = (w.promoter && w.promoter.q) || [];
  const api = function () {
    run(arguments);
  };
  api.loaded = true;
  w.promoter = api;
  hook();
  queued.forEach(run);
  if (!hooked) w.addEventListener("load", hook, { once: true });
})();
