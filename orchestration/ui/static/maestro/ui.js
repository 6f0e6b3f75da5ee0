// Maestro's operator pages: small, dependency-free behaviour on top of server-rendered HTML.
// Live pages follow the tenant's event stream (/ws, DESIGN §5) and fetch again only the
// sections an event concerns (each section says which events in data-events); no polling.
"use strict";
(function () {
  const pad = (n) => String(n).padStart(2, "0");

  // Timestamps arrive as ISO-8601 UTC; show them in the reader's zone, short when recent.
  function localTimes(root) {
    const today = new Date().toDateString();
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.title = el.getAttribute("datetime");
      const clock = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
      el.textContent = when.toDateString() === today ? clock
        : `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${clock}`;
    });
  }

  function notice(text) {
    const el = document.getElementById("notice");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // The stream: reconnects with backoff and resumes after the last seq it saw; a gap in seq
  // asks for a resume; resync_required (too far behind) fetches every section again.
  function liveStream(tenant, projectId, onEvent, onResync) {
    const badge = document.getElementById("connection");
    const state = { lastSeq: null, events: 0, connects: 0, resyncs: 0, status: "connecting" };
    let attempt = 0, resuming = false, socket = null;

    function show(status, text) {
      state.status = status;
      if (badge) { badge.className = `badge ${status}`; badge.textContent = text; }
    }

    function connect() {
      const query = new URLSearchParams({ tenant });
      if (state.lastSeq !== null) query.set("afterSeq", String(state.lastSeq));
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
      socket.onmessage = (m) => handle(JSON.parse(m.data));
      socket.onclose = (e) => {
        socket = null;
        if (e.code === 4401 || e.code === 4403) { show("offline", "signed out"); return; }
        show("reconnecting", "reconnecting…");
        const delay = Math.min(15000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
        setTimeout(connect, delay);
      };
    }

    function handle(msg) {
      if (msg.type === "connected") {
        attempt = 0; resuming = false; state.connects++;
        if (state.lastSeq === null) state.lastSeq = msg.seq;
        // A project page asks for its project's events only (checked by the server); its seqs
        // then skip other projects' events, so a gap means nothing there.
        if (projectId) socket.send(JSON.stringify({ type: "subscribe", projectId }));
        show("live", "live");
        return;
      }
      if (msg.type === "resync_required") {
        state.resyncs++; resuming = false;
        show("resyncing", "resyncing…");
        state.lastSeq = msg.seq;
        onResync().then(() => show("live", "live"));
        return;
      }
      if (msg.type === "resumed") { resuming = false; show("live", "live"); return; }
      if (typeof msg.seq !== "number" || !msg.event) return;
      if (state.lastSeq !== null && msg.seq <= state.lastSeq) return;  // seen already
      if (!projectId && state.lastSeq !== null && msg.seq > state.lastSeq + 1) {  // a gap: replay it first
        if (!resuming && socket) {
          resuming = true;
          show("resyncing", "resyncing…");
          socket.send(JSON.stringify({ type: "resume", afterSeq: state.lastSeq }));
        }
        return;
      }
      state.lastSeq = msg.seq;
      state.events++;
      const about = msg.data && msg.data.projectId;
      if (projectId && about && about !== projectId) return;  // replayed from before the subscription
      onEvent(msg);
    }

    connect();
    return state;
  }

  // Sections: swapped in place (same box, focus kept), fetched at most once per burst.
  function liveSections(tenant, params) {
    const pending = new Set();
    let timer = null;

    function concerned(type) {
      document.querySelectorAll("[data-section]").forEach((section) => {
        const prefixes = (section.dataset.events || "").split(" ").filter(Boolean);
        if (prefixes.some((p) => type.startsWith(p))) pending.add(section.dataset.section);
      });
      if (!timer) timer = setTimeout(flush, 250);
    }

    async function flush() {
      timer = null;
      const names = [...pending];
      pending.clear();
      await Promise.all(names.map(refresh));
    }

    // At most one fetch per section in flight; events meanwhile ask for one more after it.
    const inFlight = new Map();
    function refresh(name) {
      if (inFlight.has(name)) { inFlight.set(name, true); return Promise.resolve(); }
      inFlight.set(name, false);
      return fetchSection(name).finally(() => {
        const again = inFlight.get(name);
        inFlight.delete(name);
        if (again) return refresh(name);
      });
    }

    async function fetchSection(name) {
      const query = new URLSearchParams({ tenant, ...params });
      const answer = await fetch(`/sections/${name}?${query}`,
                                 { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (answer.status === 401) {
        location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
        return;
      }
      if (!answer.ok) return;
      const old = document.querySelector(`[data-section="${name}"]`);
      if (!old) return;
      const template = document.createElement("template");
      template.innerHTML = (await answer.text()).trim();
      const fresh = template.content.firstElementChild;
      const focused = old.contains(document.activeElement) ? document.activeElement : null;
      const focusKey = focused && (focused.id ? `#${CSS.escape(focused.id)}`
        : focused.dataset.loopToggle ? `[data-loop-toggle="${CSS.escape(focused.dataset.loopToggle)}"]`
        : focused.dataset.dlqReplay ? `[data-dlq-replay="${CSS.escape(focused.dataset.dlqReplay)}"]`
        : focused.dataset.runCancel ? `[data-run-cancel="${CSS.escape(focused.dataset.runCancel)}"]` : null);
      const open = [...old.querySelectorAll("details[open]")].map((d) => d.closest("[id]")?.id).filter(Boolean);
      localTimes(fresh);
      open.forEach((id) => fresh.querySelector(`#${CSS.escape(id)} details`)?.setAttribute("open", ""));
      old.replaceWith(fresh);
      if (focusKey) { const again = fresh.querySelector(focusKey); if (again) again.focus(); }
    }

    const refreshAll = () => Promise.all([...document.querySelectorAll("[data-section]")]
      .map((s) => refresh(s.dataset.section)));
    return { concerned, refresh, refreshAll };
  }

  // Controls call the same API as every other client (session cookie + CSRF token); on
  // success the change's own event updates every open page, this one included.
  // A control at work stays focusable (a disabled one would drop the keyboard focus): it is
  // marked busy and ignores further activation until the answer is in.
  function busy(control, on) {
    if (on) control.setAttribute("aria-busy", "true"); else control.removeAttribute("aria-busy");
  }
  const isBusy = (control) => control.getAttribute("aria-busy") === "true";

  function controls(tenant, sections) {
    async function call(method, path, body, headers = {}) {
      notice("");
      const answer = await fetch(path, {
        method, credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "X-Maestro-Tenant": tenant,
                   ...headers },
      });
      if (!answer.ok) {
        const refusal = await answer.json().catch(() => ({}));
        notice(answer.status === 412 ? "It changed meanwhile: shown again as it is now."
          : (refusal.message || `Refused (${answer.status})`));
      }
      return answer;
    }

    document.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-loop-toggle]");
      if (!button || isBusy(button)) return;
      busy(button, true);
      const id = encodeURIComponent(button.dataset.loopToggle);
      const answer = await call("POST", `/api/maestro/autonomic/loops/${id}/toggle`,
                                { status: button.dataset.to, version: Number(button.dataset.version) });
      if (!answer.ok) { busy(button, false); sections.refresh("loops"); }
    });

    document.addEventListener("change", async (event) => {
      const select = event.target.closest("[data-task-status]");
      if (!select || isBusy(select)) return;
      busy(select, true);
      const answer = await call("PATCH", `/api/tasks/${encodeURIComponent(select.dataset.taskStatus)}`,
                                { status: select.value }, { "If-Match": `"${select.dataset.version}"` });
      if (!answer.ok) { busy(select, false); sections.refresh("board"); }
    });

    document.addEventListener("click", async (event) => {
      const cancel = event.target.closest("[data-run-cancel]");
      const replay = event.target.closest("[data-dlq-replay]");
      const button = cancel || replay;
      if (!button || isBusy(button)) return;
      busy(button, true);
      const path = cancel ? `/api/maestro/runs/${encodeURIComponent(cancel.dataset.runCancel)}/cancel`
        : `/api/maestro/dlq/${encodeURIComponent(replay.dataset.dlqReplay)}/replay`;
      const answer = await call("POST", path, {});
      if (!answer.ok) { busy(button, false); sections.refresh("run"); }
    });

    const starter = document.getElementById("start-run");
    if (starter) {
      starter.addEventListener("submit", async (event) => {
        event.preventDefault();
        starter.querySelector("button").disabled = true;
        const key = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
        const answer = await call("POST", "/api/maestro/runs", { workflow: starter.elements.workflow.value },
                                  { "Idempotency-Key": key });
        starter.querySelector("button").disabled = false;
        if (answer.ok) location.href = `/runs/${encodeURIComponent((await answer.json()).id)}`;
      });
    }

    const form = document.getElementById("new-task");
    if (form) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const title = form.elements.title.value.trim();
        if (!title) return;
        form.querySelector("button").disabled = true;
        const answer = await call("POST", "/api/tasks", { projectId: form.dataset.project, title,
                                                          priority: form.elements.priority.value });
        form.querySelector("button").disabled = false;
        if (answer.ok) { form.reset(); form.elements.title.focus(); }
      });
    }
  }

  function aboutRun(msg, runId) {
    if (msg.event.startsWith("run:")) return msg.data && msg.data.id === runId;
    if (msg.event.startsWith("step:")) return msg.data && msg.data.run_id === runId;
    return true;
  }

  function start() {
    localTimes(document);
    const tenant = document.body.dataset.tenant;
    if (!tenant || !document.querySelector("[data-section]")) return;
    const head = document.querySelector(".page-head");
    const params = {};
    if (head && head.dataset.project) params.project = head.dataset.project;
    if (head && head.dataset.session) params.session = head.dataset.session;
    const sections = liveSections(tenant, params);
    controls(tenant, sections);
    if (head && head.dataset.run) params.run = head.dataset.run;
    const stream = liveStream(tenant, params.project || null, (msg) => {
      if (params.run && !aboutRun(msg, params.run)) return;  // another run's progress
      sections.concerned(msg.event);
    }, sections.refreshAll);
    window.maestro.stream = stream;
  }

  window.maestro = Object.assign(window.maestro || {}, { localTimes });
  document.addEventListener("DOMContentLoaded", start);
})();
