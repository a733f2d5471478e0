// Run one MicroPython program on the official WebAssembly interpreter (the virtual board's),
// for the benchmarks. Used only when host_tools.vboard.interp is not there.
//
//   echo '{"code": "print(1)", "files": {"/dowel/x.py": "<base64>"}, "heap_kb": 128}' \
//     | node bench/mp_run.mjs
//
// Files are written into the interpreter's in-memory filesystem first (parent directories
// made). The program's output goes to stdout; an uncaught Python exception prints its
// traceback to stderr and exits 1. Top-level `await` works (runPythonAsync).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "node_modules", "@micropython", "micropython-webassembly-pyscript");
const { loadMicroPython } = await import(join(pkg, "micropython.mjs"));

const job = JSON.parse(readFileSync(0, "utf8"));
const mp = await loadMicroPython({
  heapsize: (job.heap_kb || 128) * 1024,
  stdout: (data) => process.stdout.write(data),
  stderr: (data) => process.stderr.write(data),
  linebuffer: false,
});
for (const [path, b64] of Object.entries(job.files || {})) {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) mp.FS.mkdirTree(dir);
  mp.FS.writeFile(path, Buffer.from(b64, "base64"));
}
try {
  await mp.runPythonAsync(job.code);
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
process.exit(0);
