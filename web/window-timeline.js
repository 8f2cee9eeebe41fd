// A small timeline of one time window (a request's), with the part an owner gives marked between two
// handles. Each handle is a slider: dragged with a mouse, finger or pen, or moved with the arrow keys
// (10 s; with Shift, 1 min; Home and End to the ends). Clips are drawn as ticks on it, so the owner sees
// where footage is. Positions are percentages of the asked window, so it fits any width.

const STEP_S = 10;
const BIG_STEP_S = 60;

function div(className) {
  const node = document.createElement("div");
  node.className = className;
  return node;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

// `range`: {start, end} (Unix seconds) of the asked window; `clips`: [{start_time, end_time}];
// `onChange(start, end)` runs when a handle moves. Returns {node, set(start, end), setClips(clips)}.
export function windowTimeline(range, onChange) {
  const node = div("timeline");
  const track = div("timeline-track");
  const ticks = div("timeline-ticks");
  const chosen = div("timeline-chosen");
  const handles = { start: div("timeline-handle"), end: div("timeline-handle") };
  const labels = div("timeline-labels");
  const [from, to] = [document.createElement("span"), document.createElement("span")];
  from.textContent = clock(range.start);
  to.textContent = clock(range.end);
  labels.append(from, to);
  track.append(ticks, chosen, handles.start, handles.end);
  node.append(track, labels);
  const span = Math.max(1, range.end - range.start);
  const value = { start: range.start, end: range.end };
  const percent = (seconds) => `${((seconds - range.start) / span) * 100}%`;

  function draw() {
    chosen.style.left = percent(value.start);
    chosen.style.width = `${((value.end - value.start) / span) * 100}%`;
    for (const edge of ["start", "end"]) {
      const handle = handles[edge];
      handle.style.left = percent(value[edge]);
      handle.setAttribute("aria-valuenow", String(value[edge]));
      handle.setAttribute("aria-valuetext", new Date(value[edge] * 1000).toLocaleString());
    }
  }

  function move(edge, seconds) {
    let s = Math.round(seconds);
    // A handle stays inside the asked window and never passes the other one.
    if (edge === "start") s = Math.min(Math.max(s, range.start), value.end - 1);
    else s = Math.max(Math.min(s, range.end), value.start + 1);
    if (s === value[edge]) return;
    value[edge] = s;
    draw();
    onChange(value.start, value.end);
  }

  for (const edge of ["start", "end"]) {
    const handle = handles[edge];
    handle.tabIndex = 0;
    handle.setAttribute("role", "slider");
    handle.setAttribute("aria-label", edge === "start" ? "Window start" : "Window end");
    handle.setAttribute("aria-valuemin", String(range.start));
    handle.setAttribute("aria-valuemax", String(range.end));
    handle.dataset.edge = edge;
    handle.addEventListener("keydown", (event) => {
      const step = event.shiftKey ? BIG_STEP_S : STEP_S;
      const moves = {
        ArrowLeft: value[edge] - step,
        ArrowDown: value[edge] - step,
        ArrowRight: value[edge] + step,
        ArrowUp: value[edge] + step,
        Home: range.start,
        End: range.end,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      move(edge, moves[event.key]);
    });
    handle.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      handle.setPointerCapture(event.pointerId);
      handle.focus();
    });
    handle.addEventListener("pointermove", (event) => {
      if (!handle.hasPointerCapture(event.pointerId)) return;
      const box = track.getBoundingClientRect();
      const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
      move(edge, range.start + fraction * span);
    });
    handle.addEventListener("pointerup", (event) => handle.releasePointerCapture(event.pointerId));
  }

  function setClips(clips) {
    ticks.replaceChildren(
      ...clips.map((clip) => {
        const tick = div("timeline-tick");
        const start = Math.max(clip.start_time, range.start);
        const end = Math.min(clip.end_time, range.end);
        tick.style.left = percent(start);
        tick.style.width = `${Math.max(0.3, ((end - start) / span) * 100)}%`;
        return tick;
      }),
    );
  }

  draw();
  return {
    node,
    setClips,
    set(start, end) {
      value.start = Math.max(range.start, Math.min(start, range.end));
      value.end = Math.min(range.end, Math.max(end, value.start));
      draw();
    },
  };
}
