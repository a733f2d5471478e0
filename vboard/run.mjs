// One-shot runner: run a piece of code on the MicroPython interpreter with the simulated
// machine and the device files, print its output, exit. Used by host_tools.vboard.interp.
//
//   echo '{"code": "import dowel.contact", "files": {"dowel/contact.py": "<base64>"},
//          "heap_kb": 128}' | node vboard/run.mjs
//
// stdout: what the code printed (bare \n, as the interpreter prints); on an uncaught
// exception the traceback goes to stderr and the exit status is 1. If the code calls
// asyncio.run(main()), the runner waits for main to end, as a board would.
import fs from "node:fs";
import { Board } from "./lib/board.mjs";
import { MemFlash } from "./lib/flash.mjs";

const spec = JSON.parse(fs.readFileSync(0, "utf8"));
const files = {};
for (const [p, b64] of Object.entries(spec.files ?? {})) files[p] = Buffer.from(b64, "base64");

let failed = false;
const board = new Board({
  flash: new MemFlash(files),
  heapKb: spec.heap_kb ?? 128,
  hw: { pins: spec.pins ?? { sensors: [34, 35, 32], led: 2, buzzer: 25 }, imu: spec.imu !== false },
  io: { write: (buf) => process.stdout.write(buf), event: () => {}, log: (s) => process.stderr.write(s + "\n") },
  interactive: false,
});
// No console here: print the interpreter's output as it is and report errors on stderr.
board._put = (b) => board.obuf.push(b);
board.flushOut = () => {
  if (board.obuf.length) process.stdout.write(Buffer.from(board.obuf));
  board.obuf = [];
};

board.mode = "boot";
await board._newInterpreter();
board.mode = "repl";
const finish = () => {
  board.flushOut();
  process.exitCode = failed ? 1 : 0;
  board.stop();
  setImmediate(() => process.exit(process.exitCode));
};
board._pyError = (e) => {
  failed = true;
  board.flushOut();
  process.stderr.write(e && e.name === "PythonError" ? e.message : String(e && e.stack ? e.stack : e));
};
board._finishMain = () => {
  board.mainActive = false;
  const err = board.enter(() => {
    const b = board.mp.pyimport("_board");
    const exc = b._main_exc;
    b.teardown();
    return exc ? board.mp.pyimport("_board").report_text() : "";
  });
  if (err) {
    failed = true;
    board.flushOut();
    process.stderr.write(err);
  }
  finish();
};
board.enter(() => board.mp.runPython(spec.code));
if (!board.mainActive) finish();
