// The board's flash: a host directory mirrored into the interpreter's in-memory filesystem.
//
//   const flash = new Flash("/home/me/.local/share/dowel/vboard/default/flash");
//   flash.attach(mp.FS, "/flash");   // copy the host tree in, then mirror every change out
//
// The interpreter's filesystem (Emscripten MEMFS) lives in memory and a fresh one comes with
// every interpreter instance (each boot). attach() loads the host tree; the wrappers below
// mirror mkdir/unlink/rmdir/rename at once and write a changed file back when it is closed,
// and every 100 ms for files kept open, so logs and config survive a restart of the board
// as they survive a power cycle. Reads never touch the host.
import fs from "node:fs";
import path from "node:path";

const O_ACCMODE = 3, O_CREAT = 64, O_TRUNC = 512;

export class Flash {
  constructor(hostDir, { log = () => {} } = {}) {
    this.hostDir = path.resolve(hostDir);
    this.log = log;
    fs.mkdirSync(this.hostDir, { recursive: true });
    this.FS = null;
    this.dirty = new Set();
  }

  attach(FS, mount) {
    this.flushAll();
    this.FS = FS;
    this.mount = mount;
    this.dirty = new Set();
    FS.mkdir(mount);
    this._copyIn(this.hostDir, mount);
    this._patch(FS);
  }

  _copyIn(hdir, mdir) {
    for (const ent of fs.readdirSync(hdir, { withFileTypes: true })) {
      const h = path.join(hdir, ent.name);
      const m = mdir + "/" + ent.name;
      if (ent.isDirectory()) {
        this.FS.mkdir(m);
        this._copyIn(h, m);
      } else if (ent.isFile()) {
        this.FS.writeFile(m, fs.readFileSync(h));
      }
    }
  }

  // MEMFS path -> host path, or null outside the flash.
  host(p) {
    if (typeof p !== "string") return null;
    const abs = path.posix.resolve(this.FS.cwd(), p);
    if (abs === this.mount) return this.hostDir;
    if (!abs.startsWith(this.mount + "/")) return null;
    return path.join(this.hostDir, abs.slice(this.mount.length + 1));
  }

  _nodeOf(p) {
    try {
      return this.FS.lookupPath(p, { follow: false }).node;
    } catch {
      return null;
    }
  }

  _patch(FS) {
    const self = this;
    const wrap = (name, before, after) => {
      const orig = FS[name];
      FS[name] = function (...args) {
        let ctx;
        if (before) {
          try { ctx = before(...args); } catch (e) { self.log(`flash ${name}: ${e}`); }
        }
        const ret = orig.apply(FS, args);
        if (after) {
          try { after(ret, ctx, ...args); } catch (e) { self.log(`flash ${name}: ${e}`); }
        }
        return ret;
      };
    };
    const inFlash = (node) => node && self.host(FS.getPath(node)) !== null;
    wrap("write", null, (ret, ctx, stream) => { if (inFlash(stream.node)) self.dirty.add(stream.node); });
    wrap("open", null, (stream, ctx, p, flags) => {
      if (typeof flags === "number" && (flags & (O_CREAT | O_TRUNC | O_ACCMODE)) && inFlash(stream.node)) {
        if (flags & (O_CREAT | O_TRUNC)) self.dirty.add(stream.node);
      }
    });
    wrap("doTruncate", null, (ret, ctx, stream, node) => { if (inFlash(node)) self.dirty.add(node); });
    wrap("close", null, (ret, ctx, stream) => { if (self.dirty.has(stream.node)) self.flushNode(stream.node); });
    wrap("mkdir", null, (ret, ctx, p) => { const h = self.host(p); if (h) fs.mkdirSync(h, { recursive: true }); });
    wrap("unlink", (p) => { const n = self._nodeOf(p); if (n) self.dirty.delete(n); return self.host(p); },
      (ret, h) => { if (h) fs.rmSync(h, { force: true }); });
    wrap("rmdir", (p) => self.host(p), (ret, h) => { if (h) fs.rmSync(h, { recursive: true, force: true }); });
    wrap("rename", (a, b) => [self.host(a), self.host(b)], (ret, hs) => {
      const [ha, hb] = hs;
      if (ha && hb) {
        try { fs.renameSync(ha, hb); } catch (e) { if (e.code !== "ENOENT") throw e; }
      }
      self.flushAll();
    });
  }

  flushNode(node) {
    this.dirty.delete(node);
    const FS = this.FS;
    const p = FS.getPath(node);
    if (this._nodeOf(p) !== node) return; // unlinked meanwhile
    const h = this.host(p);
    if (!h) return;
    const data = node.contents ? node.contents.subarray(0, node.usedBytes) : FS.readFile(p);
    fs.writeFileSync(h, data);
  }

  flushAll() {
    for (const node of [...this.dirty]) {
      try { this.flushNode(node); } catch (e) { this.log(`flash flush: ${e}`); }
    }
  }

  // Bytes in use, rounded up to whole blocks per file (littlefs-like accounting).
  used(block) {
    const walk = (h) => {
      let n = 0;
      for (const ent of fs.readdirSync(h, { withFileTypes: true })) {
        const p = path.join(h, ent.name);
        if (ent.isDirectory()) n += block + walk(p);
        else if (ent.isFile()) n += Math.ceil(fs.statSync(p).size / block) * block || block;
      }
      return n;
    };
    this.flushAll();
    return walk(this.hostDir);
  }
}

// A flash that lives only in memory (the one-shot runner): `files` maps paths to bytes.
export class MemFlash {
  constructor(files = {}) {
    this.files = files;
    this.FS = null;
  }

  attach(FS, mount) {
    this.FS = FS;
    this.mount = mount;
    FS.mkdir(mount);
    for (const [rel, data] of Object.entries(this.files)) {
      const parts = rel.split("/").filter(Boolean);
      let dir = mount;
      for (const part of parts.slice(0, -1)) {
        dir += "/" + part;
        try { FS.mkdir(dir); } catch { /* exists */ }
      }
      FS.writeFile(dir + "/" + parts[parts.length - 1], data);
    }
  }

  flushAll() {}

  used(block) {
    const FS = this.FS;
    const walk = (p) => {
      let n = 0;
      for (const name of FS.readdir(p)) {
        if (name === "." || name === "..") continue;
        const q = p + "/" + name;
        const st = FS.stat(q);
        if (FS.isDir(st.mode)) n += block + walk(q);
        else n += Math.ceil(st.size / block) * block || block;
      }
      return n;
    };
    return walk(this.mount);
  }
}
