// The virtual dowel board: the MicroPython WebAssembly interpreter wired as an ESP32 would be.
//
//   const board = new Board({ flash: new Flash(dir), hw: { pins, imu: true, uid }, heapKb: 128,
//                             io: { write: (buf) => serialOut(buf), event: (ev) => ..., log } });
//   await board.powerOn();
//   board.input(bytes);        // serial bytes from the host (mpremote)
//
// What the interpreter does not do and the board does here (verified against 1.27.0):
// - soft reset (Ctrl-D): each boot is a fresh interpreter instance; the board prints
//   "MPY: soft reboot", runs boot.py, and main.py unless the raw REPL was active, as an ESP32;
// - raw paste (\x05A\x01 spins the interpreter forever): answered here with a flow-control
//   window, the code is then fed to the raw REPL as a normal command;
// - asyncio.run (absent): see py/_board.py; while main runs, serial input waits in the
//   queue, Ctrl-C throws KeyboardInterrupt into main, and the REPL starts when main ends;
// - `print` emits bare \n: output is cooked to \r\n as a board's stdout;
// - the flash persists in a host directory (lib/flash.mjs); errno numbers are mapped in
//   py/_board.py;
// - the watchdog resets the board when not fed (and the host process catches an interpreter
//   stuck in a loop that never yields: see board.mjs at the top level).
import fs from "node:fs";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { Hardware } from "./hardware.mjs";

const PY_FILES = ["machine.py", "_board.py", "_vbtime.py", "_vbgc.py"];
const PY_SRC = Object.fromEntries(
  PY_FILES.map((f) => [f, fs.readFileSync(new URL("../py/" + f, import.meta.url))]),
);
const PASTE_WINDOW = 2048; // bytes; little-endian 0x00 0x08 on the wire (no \n to cook)
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const FORCED_EXIT = 0x100; // PYEXEC_FORCED_EXIT from replProcessChar: soft reset requested

const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  setImmediate: globalThis.setImmediate,
};

// The interpreter instance whose Python may run. Timers its Python sets (asyncio's
// js.setTimeout, machine.Timer) belong to it and die with it at a reset.
let current = null;

class Generation {
  constructor(board) {
    this.board = board;
    this.alive = true;
    this.handles = new Set();
    this.timers = new Map();
  }

  kill() {
    this.alive = false;
    for (const h of this.handles) real.clearTimeout(h);
    this.handles.clear();
    this.timers.clear();
  }
}

globalThis.setTimeout = (fn, ms, ...args) => {
  const gen = current;
  if (!gen) return real.setTimeout(fn, ms, ...args);
  const h = real.setTimeout(() => {
    gen.handles.delete(h);
    if (gen.alive) gen.board.enter(() => fn(...args));
  }, ms);
  gen.handles.add(h);
  return h;
};
globalThis.clearTimeout = (h) => {
  if (current) current.handles.delete(h);
  real.clearTimeout(h);
};

class ByteQueue {
  constructor() { this.a = []; this.h = 0; }
  get length() { return this.a.length - this.h; }
  push(bytes) { for (const b of bytes) this.a.push(b); }
  peek(i) { return this.a[this.h + i]; }
  shift() {
    const b = this.a[this.h++];
    if (this.h > 4096 && this.h * 2 > this.a.length) { this.a = this.a.slice(this.h); this.h = 0; }
    return b;
  }
  drop(n) { for (let i = 0; i < n; i++) this.shift(); }
  indexOf(b) { const i = this.a.indexOf(b, this.h); return i < 0 ? -1 : i - this.h; }
  removeAt(i) { this.a.splice(this.h + i, 1); }
  clear() { this.a = []; this.h = 0; }
}

// Raw REPL tail held while main runs: <stdout>\x04<stderr>\x04>
function splitRawTail(held) {
  const n = held.length;
  if (n < 3 || held[n - 1] !== 0x3e || held[n - 2] !== 4) return null;
  const j = held.lastIndexOf(4, n - 3);
  if (j < 0) return null;
  return { out: held.slice(0, j), err: held.slice(j + 1, n - 2) };
}

export class Board {
  constructor({ flash, hw, heapKb = 128, io, interactive = true }) {
    this.flash = flash;
    this.heapKb = heapKb;
    this.io = io;
    this.interactive = interactive;
    this.hw = new Hardware({ ...hw, emit: (ev) => io.event(ev) });
    this.mp = null;
    this.gen = null;
    this.mode = "off"; // off | boot | main | repl
    this.rawMode = false;
    this.rawLineLen = 0;
    this.inq = new ByteQueue();
    this.paste = null;
    this.capture = null;
    this.held = null;
    this.callOut = null;
    this.depth = 0;
    this.inFeed = false;
    this.inAfter = false;
    this.pumping = false;
    this.pendingReset = null;
    this.mainActive = false;
    this.mainEnded = false;
    this.mainFrom = null;
    this.obuf = [];
    this.flushPending = false;
    this.prevCR = false;
    this.stripOK = 0;
    this.banner = "";
    this.bootMs = Date.now();
    this.heap = { live: 0, peak: 0, limit: heapKb * 1024, overhead: 0, exhausted: false };
    this.intervals = [];
  }

  // ---- output -------------------------------------------------------------------------

  _stdout(d) {
    for (const b of d) {
      if (this.stripOK > 0) {
        const want = this.stripOK === 2 ? 0x4f : 0x4b; // "OK" the raw REPL prints, not raw paste
        this.stripOK--;
        if (b === want) continue;
        this.stripOK = 0;
      }
      if (this.capture) { this.capture.push(b); continue; }
      if (this.callOut) this.callOut.push(b);
      this._put(b, true);
    }
  }

  _put(b, cook) {
    if (cook && b === 10 && !this.prevCR) this.obuf.push(13);
    this.prevCR = b === 13;
    this.obuf.push(b);
    if (this.obuf.length > 65536) this.flushOut();
    else if (!this.flushPending) {
      this.flushPending = true;
      real.setImmediate(() => this.flushOut());
    }
  }

  emitBytes(bytes, cook = true) {
    for (const b of bytes) this._put(b, cook);
  }

  emitStr(s, cook = true) {
    this.emitBytes(Buffer.from(s, "latin1"), cook);
  }

  flushOut() {
    this.flushPending = false;
    if (!this.obuf.length) return;
    const buf = Buffer.from(this.obuf);
    this.obuf = [];
    this.io.write(buf);
  }

  // ---- calling into Python ----------------------------------------------------------------

  enter(fn) {
    this.depth++;
    let ret;
    try {
      ret = fn();
    } catch (e) {
      this._pyError(e);
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this._after();
    return ret;
  }

  _py(code) {
    return this.enter(() => this.mp.runPython(code));
  }

  _pyError(e) {
    if (e && e.name === "PythonError") {
      if (e.type !== "SystemExit") this.emitStr(e.message);
    } else {
      this.io.log(`vboard internal error: ${e && e.stack ? e.stack : e}`);
      this.emitStr(`\r\n[vboard] internal error: ${e}\r\n`);
    }
  }

  // Runs when control is back in JavaScript: resets, the end of main, queued input.
  _after() {
    if (this.inAfter) return;
    this.inAfter = true;
    try {
      if (this.pendingReset) {
        const kind = this.pendingReset;
        this.pendingReset = null;
        this.reset(kind);
        return;
      }
      if (this.mainEnded) {
        this.mainEnded = false;
        this._finishMain();
      } else if (this.mainActive && this.mode === "repl" && !this.capture) {
        this.mode = "main";
      }
      this._pump();
    } finally {
      this.inAfter = false;
    }
  }

  // ---- the interpreter's hooks (called from Python via _vb) -------------------------------

  mainStarted() {
    this.mainActive = true;
    this.mainEnded = false;
    if (this.inFeed) {
      this.capture = [];
      this.mainFrom = this.rawMode ? "raw" : "friendly";
    } else {
      this.mainFrom = this.mode === "boot" ? "boot" : "other";
    }
  }

  mainDone() {
    this.mainEnded = true;
  }

  requestReset(kind) {
    this.pendingReset = kind;
  }

  timerStart(id, period, periodic, fn) {
    const gen = this.gen;
    this.timerStop(id);
    const tick = () => {
      if (gen.alive) this.enter(() => fn());
    };
    let h;
    if (periodic) {
      h = real.setInterval(tick, Math.max(1, period));
    } else {
      h = real.setTimeout(() => {
        gen.timers.delete(id);
        gen.handles.delete(h);
        tick();
      }, Math.max(0, period));
    }
    gen.handles.add(h);
    gen.timers.set(id, h);
  }

  timerStop(id) {
    const gen = this.gen;
    const h = gen.timers.get(id);
    if (h) {
      real.clearTimeout(h);
      gen.handles.delete(h);
      gen.timers.delete(id);
    }
  }

  // ---- boot ---------------------------------------------------------------------------------

  async _newInterpreter() {
    const mp = await loadMicroPython({
      heapsize: this.heapKb * 1024,
      stdout: (d) => this._stdout(d),
      stderr: (d) => this._stdout(d),
      // sys.stdin reads the serial input the REPL has not consumed; when there is none it
      // reads as end of file (a board would block). Without this, Emscripten would read the
      // process's stdin itself and take bytes from under the REPL.
      stdin: () => (this.inq.length ? this.inq.shift() : null),
      linebuffer: false,
    });
    this.mp = mp;
    const gen = new Generation(this);
    this.gen = gen;
    current = gen;
    mp.registerJsModule("_vb", this.hw.api(this));
    const FS = mp.FS;
    FS.mkdir("/vb");
    for (const [name, src] of Object.entries(PY_SRC)) FS.writeFile("/vb/" + name, src);
    this.flash.attach(FS, "/flash");
    this.capture = [];
    try {
      mp.replInit();
    } finally {
      this.banner = Buffer.from(this.capture).toString("latin1");
      this.capture = null;
    }
    this._py("import sys\nsys.path.insert(0, '/vb')\nimport _board\n_board.setup('/flash')\nsys.path.pop(0)\ndel sys");
    this.heap.overhead = this.enter(() => this.mp.pyimport("_board").heap_live()) ?? 0;
    this.heap.live = this.heap.overhead;
    this.heap.peak = this.heap.overhead;
    this.heap.exhausted = false;
    return gen;
  }

  async boot({ raw }) {
    this.mode = "boot";
    const gen = await this._newInterpreter();
    if (this.gen !== gen) return;
    this._py("_board.run_file('boot.py', globals())");
    if (this.gen !== gen || this.mode !== "boot") return;
    if (!raw) {
      this._py("_board.run_file('main.py', globals())");
      if (this.gen !== gen || this.mode !== "boot") return;
    }
    this.io.event({ ev: "boot", raw, reset_cause: this.hw.resetCause });
    if (this.mainActive) {
      this.mode = "main";
      this._pump();
      return;
    }
    this.startRepl(raw);
  }

  startRepl(raw) {
    if (raw) {
      const saved = this.capture;
      this.capture = [];
      try {
        this.mp.replProcessChar(1);
      } finally {
        this.capture = saved;
      }
      this.rawMode = true;
      this.rawLineLen = 0;
      this.emitStr(RAW_BANNER + ">");
    } else {
      this.rawMode = false;
      this.emitStr(this.banner);
    }
    this.mode = "repl";
    this._pump();
  }

  async powerOn() {
    const rst = { 1: "0x1 (POWERON_RESET)", 3: "0x7 (TG0WDT_SYS_RESET)" }[this.hw.resetCause] ?? "0xc (SW_CPU_RESET)";
    this.emitStr(`\r\nets Jul 29 2019 12:21:46\r\n\r\nrst:${rst},boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n`);
    if (this.interactive) this._startIntervals();
    await this.boot({ raw: false });
  }

  async reset(kind) {
    this.mode = "boot";
    this.paste = null;
    this.capture = null;
    this.held = null;
    this.mainActive = false;
    this.mainEnded = false;
    this.mainFrom = null;
    this.stripOK = 0;
    if (this.gen) this.gen.kill();
    current = null;
    this.flash.flushAll();
    this.io.event({ ev: "reset", kind });
    if (kind === "soft") {
      this.emitStr("MPY: soft reboot\r\n");
      this.hw.softReset();
      await this.boot({ raw: this.rawMode });
      return;
    }
    const cause = kind === "wdt" ? 3 : 5; // WDT_RESET, SOFT_RESET (what esp_restart reports)
    if (kind === "wdt") {
      const t = Date.now() - this.bootMs;
      this.emitStr(
        `E (${t}) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:\r\n` +
        `E (${t}) task_wdt:  - mp_task (CPU 0/1)\r\nE (${t}) task_wdt: Aborting.\r\n` +
        "[vboard] watchdog reset: the WDT was not fed in time\r\n",
      );
    }
    this.emitStr(
      "\r\nets Jul 29 2019 12:21:46\r\n\r\n" +
      (kind === "wdt" ? "rst:0x7 (TG0WDT_SYS_RESET)" : "rst:0xc (SW_CPU_RESET)") +
      ",boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    );
    this.hw.hardReset(cause);
    this.inq.clear();
    this.rawMode = false;
    this.bootMs = Date.now();
    await this.boot({ raw: false });
  }

  // ---- serial input ------------------------------------------------------------------------

  input(bytes) {
    this.inq.push(bytes);
    if (this.inq.length > 1 << 20) this.inq.drop(this.inq.length - (1 << 20));
    if (this.depth === 0) this._pump();
  }

  _pump() {
    if (this.pumping || this.depth > 0) return;
    this.pumping = true;
    try {
      while (this.inq.length) {
        if (this.mode === "main") {
          // As a program on a board, main does not read the console: bytes wait for the REPL,
          // except Ctrl-C, which interrupts it.
          const i = this.inq.indexOf(3);
          if (i < 0) break;
          this.inq.removeAt(i);
          this._py("_board.interrupt()");
          continue;
        }
        if (this.mode !== "repl") break;
        if (this.paste) {
          this._pasteByte(this.inq.shift());
          continue;
        }
        const b = this.inq.peek(0);
        if (b === 5 && this.rawMode && this.rawLineLen === 0) {
          if (this.inq.length < 3) break;
          if (this.inq.peek(1) === 0x41 && this.inq.peek(2) === 1) {
            this.inq.drop(3);
            this.paste = { data: [], credit: 0 };
            this.emitBytes([0x52, 0x01, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8], false);
            continue;
          }
        }
        this.inq.shift();
        this._feed(b);
      }
    } finally {
      this.pumping = false;
    }
  }

  _feed(b) {
    if (!this.rawMode && b === 1) this.callOut = [];
    if (b === 4 || b === 13) this.flushOut(); // before running code that may never return
    this.inFeed = true;
    this.depth++;
    let ret = 0;
    try {
      ret = this.mp.replProcessChar(b);
    } catch (e) {
      this._pyError(e);
    } finally {
      this.depth--;
      this.inFeed = false;
    }
    if (this.rawMode) {
      if (b === 2) this.rawMode = false;
      else if (b === 1 || b === 3 || b === 4) this.rawLineLen = 0;
      else this.rawLineLen++;
    } else if (this.callOut) {
      if (Buffer.from(this.callOut).toString("latin1").includes(RAW_BANNER)) {
        this.rawMode = true;
        this.rawLineLen = 0;
      }
    }
    this.callOut = null;
    if (this.capture) {
      this.held = this.capture;
      this.capture = null;
      this.mode = "main";
    }
    if (ret & FORCED_EXIT && !this.pendingReset) this.pendingReset = "soft";
    if (this.depth === 0) this._after();
  }

  _pasteByte(b) {
    const p = this.paste;
    if (b !== 4) {
      p.data.push(b);
      if (++p.credit >= PASTE_WINDOW) {
        p.credit = 0;
        this.emitBytes([1], false);
      }
      return;
    }
    // End of data: acknowledge (now: the code may never return), then run it as a raw REPL
    // command without the "OK".
    this.paste = null;
    this.emitBytes([4], false);
    this.flushOut();
    for (const c of p.data) this.mp.replProcessChar(c);
    this.rawLineLen += p.data.length;
    this.stripOK = 2;
    this._feed(4);
  }

  // ---- end of main ------------------------------------------------------------------------

  _finishMain() {
    this.mainActive = false;
    const from = this.mainFrom;
    const held = this.held;
    this.mainFrom = null;
    this.held = null;
    this._py("_board.teardown()");
    if (this.pendingReset) return;
    const tail = from === "raw" && held ? splitRawTail(held) : null;
    if (tail) {
      this.emitBytes(tail.out);
      this.emitBytes([4], false);
      this.emitBytes(tail.err);
      this._py("_board.report()");
      this.emitBytes([4, 0x3e], false);
    } else {
      this._py("_board.report()");
      if (held) this.emitBytes(held);
    }
    if (from === "boot") {
      this.startRepl(false);
      return;
    }
    this.mode = "repl";
  }

  // ---- housekeeping -------------------------------------------------------------------------

  _startIntervals() {
    this.intervals.push(real.setInterval(() => {
      if (this.mode !== "boot" && this.mode !== "off" && this.hw.wdtExpired() && !this.pendingReset) {
        if (this.depth > 0) this.pendingReset = "wdt";
        else this.reset("wdt");
      }
    }, 10));
    this.intervals.push(real.setInterval(() => this.flash.flushAll(), 100));
    this.intervals.push(real.setInterval(() => this.checkHeap(), 1000));
  }

  // The port grows its heap on demand (up to 128 MB); a board cannot. Measure the live heap
  // after a collection and end main with MemoryError when it passes the board's heap.
  checkHeap() {
    if (this.depth > 0 || !this.mp || (this.mode !== "main" && this.mode !== "repl")) return;
    this.enter(() => this.mp.pyimport("gc").collect());
    const live = this.enter(() => this.mp.pyimport("_board").heap_live());
    if (typeof live !== "number") return;
    this.heap.live = live;
    if (live > this.heap.peak) {
      this.heap.peak = live;
      this.io.event({ ev: "heap", live, peak: live, limit: this.heap.limit, overhead: this.heap.overhead });
    }
    if (live > this.heap.limit && !this.heap.exhausted) {
      this.heap.exhausted = true;
      this.emitStr(`\r\n[vboard] heap exhausted: ${live} bytes live > ${this.heap.limit} (heap_kb)\r\n`);
      if (this.mainActive) this._py("_board.interrupt(MemoryError)");
    }
  }

  stop() {
    for (const h of this.intervals) clearInterval(h);
    if (this.gen) this.gen.kill();
    this.flash.flushAll();
    this.flushOut();
  }
}
