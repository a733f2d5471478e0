// The simulated hardware behind the board's `machine` module: the patient's sensor timeline,
// the IMU, outputs (recorded with timestamps), timers, the watchdog, the RTC.
//
//   const hw = new Hardware({ pins: { sensors: [34, 35, 32], led: 2, buzzer: 25 }, imu: true,
//                             uid: "240ac4a1b2c3", emit: (ev) => sendToDaemon(ev) });
//   hw.setTimeline(tl);      // arrays rendered by host_tools.sim, played by elapsed time
//   mp.registerJsModule("_vb", hw.api(board));
//
// Times are CLOCK_MONOTONIC microseconds (process.hrtime), the clock Python's time.monotonic
// reads, so the host and the board share one timeline.

const POWERON_RESET = 1;
const EPOCH_2000_MS = 946684800000;

export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Idle patient (no scenario playing): the dowel lies on a table, nobody touches it.
const IDLE = { counts: [300, 300, 300], pitchCdeg: 9000, gmag: 1000 };

export class Hardware {
  constructor({ pins, imu = true, uid = "240ac4000000", rtcOffsetMs = null, resetCause = POWERON_RESET,
                emit = () => {}, wdtShared = null }) {
    this.pins = pins;
    this.hasImu = imu;
    this.uid = uid;
    this.rtcOffsetMs = rtcOffsetMs ?? EPOCH_2000_MS - Date.now();
    this.resetCause = resetCause;
    this.emit = emit;
    this.tl = null;
    this.pwm = new Map();
    this.last = new Map();
    this.cpuHz = 160000000;
    this.noise = 12345;
    // Watchdog state; shared with the watchdog thread that catches a stuck interpreter.
    this.wdt = wdtShared ?? new Float64Array(3); // [armed, timeout_ms, last_feed_ms]
    this.sensorIndex = new Map(pins.sensors.map((p, i) => [p, i]));
  }

  setTimeline(tl) {
    this.tl = tl;
  }

  _index() {
    const tl = this.tl;
    if (!tl) return -1;
    const t = (nowUs() - tl.t0Us) / 1000;
    let i = Math.floor(t / tl.dtMs);
    if (i < 0) i = 0;
    if (i >= tl.n) i = tl.n - 1;
    return i;
  }

  _lcg() {
    this.noise = (Math.imul(this.noise, 1103515245) + 12345) >>> 0;
    return this.noise;
  }

  adc(pin) {
    const s = this.sensorIndex.get(pin);
    if (s === undefined) return 0;
    const i = this._index();
    if (i < 0) return IDLE.counts[s] + (this._lcg() % 121) - 60;
    return this.tl.counts[s][i];
  }

  imu(k) {
    const i = this._index();
    const pitch = ((i < 0 ? IDLE.pitchCdeg : this.tl.pitch[i]) / 100) * (Math.PI / 180);
    const g = i < 0 ? IDLE.gmag : this.tl.gmag[i];
    const h = ((Math.imul(i + 7 * k + 1, 2654435761) >>> 0) % 21) - 10;
    switch (k) {
      case 0: return Math.round(g * Math.cos(pitch)); // ax, milli-g
      case 1: return h; // ay
      case 2: return Math.round(g * Math.sin(pitch)); // az
      case 3: return h * 20; // gx, milli-deg/s
      case 4: return i < 0 ? h * 20 : this.tl.gyro[i]; // gy = d(pitch)/dt
      case 5: return h * 20; // gz
      case 6: return 2500 + (h >> 2); // temperature, centi-deg C
      default: return 0;
    }
  }

  pinIn(pin, pull) {
    const s = this.sensorIndex.get(pin);
    if (s !== undefined) return this.adc(pin) > 32768 ? 1 : 0;
    return pull === 2 ? 1 : 0;
  }

  record(kind, value) {
    const key = kind === "pin" || kind === "pwm" ? `${kind}${value[0]}` : kind;
    const enc = JSON.stringify(value);
    if (this.last.get(key) === enc) return;
    this.last.set(key, enc);
    this.emit({ ev: "out", t_us: nowUs(), kind, value });
  }

  out(kind, pin, value) {
    if (kind === 0) {
      if (pin === this.pins.led) this.record("led", value ? 1 : 0);
      else this.record("pin", [pin, value ? 1 : 0]);
      return;
    }
    const st = this.pwm.get(pin) ?? { freq: 5000, duty: 32768, on: false };
    if (kind === 1) { st.freq = value; st.on = true; }
    else if (kind === 2) { st.duty = value; st.on = true; }
    else if (kind === 3) st.on = false;
    this.pwm.set(pin, st);
    this._pwmOut(pin, st);
  }

  _pwmOut(pin, st) {
    const duty = st.on ? st.duty : 0;
    this.record("pwm", [pin, st.freq, duty]);
    if (pin === this.pins.buzzer) this.record("tone", duty > 0 ? st.freq : 0);
    if (pin === this.pins.led) this.record("led", duty > 0 ? 1 : 0);
  }

  // Soft reset: PWM channels stop (machine_pwm_deinit_all); GPIO levels stay.
  softReset() {
    for (const [pin, st] of this.pwm) {
      st.on = false;
      this._pwmOut(pin, st);
    }
    this.pwm.clear();
  }

  // Hard reset: every pin back to input, watchdog off, a new reset cause. The RTC keeps time.
  hardReset(cause) {
    this.softReset();
    this.record("led", 0);
    for (const key of [...this.last.keys()]) {
      if (key.startsWith("pin")) this.record("pin", [Number(key.slice(3)), 0]);
    }
    this.wdt[0] = 0;
    this.resetCause = cause;
    this.cpuHz = 160000000;
  }

  wdtStart(timeoutMs) {
    this.wdt[1] = timeoutMs;
    this.wdt[2] = Date.now();
    this.wdt[0] = 1;
  }

  wdtFeed() {
    this.wdt[2] = Date.now();
  }

  wdtExpired() {
    return this.wdt[0] === 1 && Date.now() - this.wdt[2] > this.wdt[1];
  }

  rtcMs() {
    return Date.now() + this.rtcOffsetMs;
  }

  rtcSet(secs, us) {
    this.rtcOffsetMs = secs * 1000 + Math.floor(us / 1000) - Date.now();
    this.emit({ ev: "rtc", offset_ms: this.rtcOffsetMs });
  }

  // The JS module `_vb` the board's Python side imports.
  api(board) {
    const hw = this;
    return {
      adc: (pin) => hw.adc(pin),
      imu: (k) => hw.imu(k),
      has_imu: () => hw.hasImu,
      out: (kind, pin, value) => hw.out(kind, pin, value),
      pin_in: (pin, pull) => hw.pinIn(pin, pull),
      timer_start: (id, period, periodic, fn) => board.timerStart(id, period, periodic, fn),
      timer_stop: (id) => board.timerStop(id),
      wdt_start: (ms) => hw.wdtStart(ms),
      wdt_feed: () => hw.wdtFeed(),
      rtc_s: () => Math.floor(hw.rtcMs() / 1000),
      rtc_us: () => (Math.floor(hw.rtcMs()) % 1000) * 1000,
      rtc_set: (secs, us) => hw.rtcSet(secs, us),
      reset: () => board.requestReset("hard"),
      soft_reset: () => board.requestReset("soft"),
      reset_cause: () => hw.resetCause,
      unique_id: () => hw.uid,
      cpu_freq: (hz) => { if (hz) hw.cpuHz = hz; return hw.cpuHz; },
      main_started: () => board.mainStarted(),
      main_done: () => board.mainDone(),
      flash_used: (block) => board.flash.used(block),
      heap_limit: () => board.heap.limit,
    };
  }
}
