// The live parts of a job page: redraw the panel when the job changes, and draw the
// calibration's live bars from its snapshots. Everything else is plain HTML forms.
"use strict";
(function () {
  const panel = document.getElementById("panel");
  if (!panel || panel.dataset.running !== "1") return;
  const job = panel.dataset.job;
  const live = document.getElementById("live");
  const FULL = 65535;
  // Frames drawn, for the page's own tests (updates a second) and for a curious PT.
  window.dowelLiveFrames = 0;

  async function redraw() {
    const answer = await fetch(`/jobs/${job}/panel`, { credentials: "same-origin" });
    if (answer.ok) panel.innerHTML = await answer.text();  // server-rendered, escaped HTML
  }

  function pct(value) {
    return `${Math.max(0, Math.min(100, (100 * value) / FULL))}%`;
  }

  function draw(snap) {
    live.hidden = false;
    const doing = snap.recording ? "recording" : "get in position";
    document.getElementById("live-phase").textContent =
      `Step ${snap.step}, ${snap.title}: ${doing} ${(snap.phase_ms / 1000).toFixed(1)} / ` +
      `${(snap.phase_total_ms / 1000).toFixed(1)} s`;
    snap.points.forEach((p, i) => {
      const row = live.querySelector(`[data-point="${i}"]`);
      row.querySelector(".fill").style.width = pct(p.reading);
      for (const [cls, value] of [["off", p.off], ["on", p.on]]) {
        const mark = row.querySelector(`.mark.${cls}`);
        mark.hidden = value === null;
        if (value !== null) mark.style.left = pct(value);
      }
      row.querySelector(".reading").textContent = p.reading;
      const state = row.querySelector(".state");
      state.textContent = p.state === "lost"
        ? `LOSS ×${p.lost_at_ms.length}, last at ${(p.lost_at_ms.at(-1) / 1000).toFixed(1)} s`
        : p.state;
      row.dataset.state = p.state;
    });
    document.getElementById("live-pitch").textContent =
      snap.pitch_deg === null ? "" : `Trunk pitch ${snap.pitch_deg.toFixed(1)}°.`;
    window.dowelLiveFrames += 1;
  }

  // From the events this page was drawn with, so one that came since still redraws it.
  const events = new EventSource(`/jobs/${job}/events?since=${panel.dataset.events}`);
  let pending = null;
  events.addEventListener("change", () => {
    // Several changes in a burst: one redraw.
    if (pending === null) pending = setTimeout(() => { pending = null; redraw(); }, 30);
  });
  if (live) events.addEventListener("live", (e) => draw(JSON.parse(e.data)));
  // The app stopped (Ctrl-C) or the computer slept: EventSource retries without end and the
  // page would say "working…" forever. After a few seconds without it, say so.
  let lost = null;
  const notice = document.createElement("p");
  notice.className = "error";
  notice.setAttribute("role", "alert");
  notice.id = "lost";
  notice.textContent =
    "The app is not answering: it may have been stopped, and this job with it. Start the " +
    "app again, open the address it prints, and start the job again.";
  events.addEventListener("error", () => {
    if (lost !== null) return;
    lost = setTimeout(() => {
      panel.prepend(notice);
      // Nothing here runs any more: no "working…", no Stop, no question to answer.
      panel.querySelectorAll(".inline, #question").forEach((el) => { el.hidden = true; });
    }, 4000);
  });
  events.addEventListener("open", () => {
    clearTimeout(lost);
    lost = null;
    if (notice.isConnected) {  // back (the computer slept): the panel as the job is now
      notice.remove();
      redraw();
    }
  });
  events.addEventListener("end", async () => {
    events.close();
    await redraw();
    panel.dataset.running = "0";
  });
})();
