// Entry point of one virtual dowel board process, started by host_tools/vboard/daemon.py.
//
//   node vboard/board.mjs '{"flash": DIR, "heap_kb": 128, "imu": true, "uid": "240ac4a1b2c3",
//                          "pins": {"sensors": [34, 35, 32], "led": 2, "buzzer": 25},
//                          "control_fd": 3, "reset_cause": 1, "rtc_offset_ms": null}'
//
// stdin/stdout carry the serial line (the daemon bridges them to a pseudo-terminal); the
// control socket carries JSON lines: the daemon sends {"op": "timeline" | "ping" | "stop"},
// the board sends events {"ev": "out" | "boot" | "reset" | "rtc" | "heap" | "pong" | ...}.
// A watchdog thread kills this process when the WDT expires while the interpreter is stuck in
// a loop that never returns to JavaScript; the daemon then restarts the board (WDT reset).
import net from "node:net";
import { Worker } from "node:worker_threads";
import { Board } from "./lib/board.mjs";
import { Flash } from "./lib/flash.mjs";
import { nowUs } from "./lib/hardware.mjs";

const cfg = JSON.parse(process.argv[2]);
const ctl = new net.Socket({ fd: cfg.control_fd, readable: true, writable: true });
const send = (obj) => ctl.write(JSON.stringify(obj) + "\n");
const log = (s) => process.stderr.write(`${new Date().toISOString()} ${s}\n`);

const wdtShared = new Float64Array(new SharedArrayBuffer(3 * 8));
const board = new Board({
  flash: new Flash(cfg.flash, { log }),
  heapKb: cfg.heap_kb ?? 128,
  hw: {
    pins: cfg.pins,
    imu: cfg.imu !== false,
    uid: cfg.uid,
    resetCause: cfg.reset_cause ?? 1,
    rtcOffsetMs: cfg.rtc_offset_ms ?? null,
    wdtShared,
  },
  io: { write: (buf) => process.stdout.write(buf), event: send, log },
});

// The interpreter blocks this thread while Python runs; only another thread can see a WDT
// that expired because Python never returns (a `while True:` without await).
const watchdog = new Worker(
  `const { workerData } = require("node:worker_threads");
   const fs = require("node:fs");
   const s = new Float64Array(workerData.sab);
   setInterval(() => {
     if (s[0] === 1 && Date.now() - s[2] > s[1] + 300) {
       try { fs.writeSync(workerData.fd, JSON.stringify({ ev: "wdt_stuck" }) + "\\n"); } catch {}
       process.kill(process.pid, "SIGKILL");
     }
   }, 50);`,
  { eval: true, workerData: { sab: wdtShared.buffer, fd: cfg.control_fd } },
);
watchdog.unref();

function decodeTimeline(msg) {
  const arr = (name) => {
    const buf = Buffer.from(msg.arrays[name], "base64");
    const out = new Int32Array(buf.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(i * 4);
    return out;
  };
  return {
    t0Us: msg.t0_us,
    dtMs: msg.dt_ms,
    n: msg.n,
    counts: [arr("head"), arr("midback"), arr("sacrum")],
    pitch: arr("pitch_cdeg"),
    gyro: arr("gyro_mdps"),
    gmag: arr("gmag_milli"),
  };
}

function shutdown(code) {
  try {
    board.stop();
  } finally {
    process.exit(code);
  }
}

let pending = "";
ctl.on("data", (chunk) => {
  pending += chunk.toString("utf8");
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (!line.trim()) continue;
    const msg = JSON.parse(line);
    if (msg.op === "timeline") board.hw.setTimeline(msg.n ? decodeTimeline(msg) : null);
    else if (msg.op === "ping") {
      send({ ev: "pong", id: msg.id, mode: board.mode, raw: board.rawMode, heap: board.heap, t_us: nowUs() });
    } else if (msg.op === "stop") shutdown(0);
  }
});
ctl.on("end", () => shutdown(0));
ctl.on("error", () => shutdown(0));
process.stdin.on("data", (d) => {
  // Tell the daemon at once that this process is alive to take a Ctrl-C, before running
  // whatever follows it (which may legitimately run long): see the daemon's stuck check.
  // (libuv writes to the socket at once when its queue is empty, as it is here.)
  if (d.includes(3)) send({ ev: "ctrl_c" });
  board.input(d);
});
process.stdin.on("end", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

await board.powerOn();
send({ ev: "ready", pid: process.pid });
