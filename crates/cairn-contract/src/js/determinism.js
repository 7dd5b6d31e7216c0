// No wall clock, no entropy, no time zone: `Date.now()` and `new Date()`
// give the transaction's timestamp, dates read and print in UTC whatever the
// peer's time zone, and `Math.random` is a xoshiro128** generator seeded
// from the transaction id. Two peers executing the same proposal therefore
// see the same values.
(function (host, internal) {
  'use strict';
  const OrigDate = Date;
  const dateProto = OrigDate.prototype;
  const origOffset = dateProto.getTimezoneOffset;
  const origToISOString = dateProto.toISOString;
  let nowMillis = 0;

  // ISO date-only forms are UTC by the spec; any form with a time and an
  // explicit zone is zoned. Everything else an engine reads as local time.
  const ISO_DATE_ONLY = /^[+-]?\d{4,6}(-\d\d(-\d\d)?)?$/;
  const HAS_ZONE = /(\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d:?\d\d)\b)|\b(UTC|GMT|UT|Z)\b|[+-]\d{4}\s*(\(.*\))?$/i;
  function parseUtc(s) {
    const t = OrigDate.parse(s);
    if (Number.isNaN(t) || ISO_DATE_ONLY.test(s.trim()) || HAS_ZONE.test(s)) return t;
    return t - origOffset.call(new OrigDate(t)) * 60000;
  }

  function CairnDate(...args) {
    if (new.target === undefined) return utcString(new OrigDate(nowMillis));
    let time;
    if (args.length === 0) time = nowMillis;
    else if (args.length === 1) {
      const v = args[0];
      time = typeof v === 'string' ? parseUtc(v) : v instanceof OrigDate ? v.getTime() : v;
    } else {
      time = OrigDate.UTC(...args);
    }
    return Reflect.construct(OrigDate, [time], new.target);
  }
  Object.defineProperty(CairnDate, 'length', { value: 7 });
  Object.defineProperty(CairnDate, 'name', { value: 'Date' });
  CairnDate.prototype = dateProto;
  Object.defineProperty(dateProto, 'constructor', { value: CairnDate, writable: true, configurable: true });
  CairnDate.now = function now() { return nowMillis; };
  CairnDate.parse = function parse(s) { return parseUtc(String(s)); };
  CairnDate.UTC = OrigDate.UTC;

  // Local-time accessors become their UTC twins.
  for (const name of ['FullYear', 'Month', 'Date', 'Day', 'Hours', 'Minutes', 'Seconds', 'Milliseconds']) {
    dateProto['get' + name] = dateProto['getUTC' + name];
    if (name !== 'Day') dateProto['set' + name] = dateProto['setUTC' + name];
  }
  dateProto.getYear = function getYear() { return this.getUTCFullYear() - 1900; };
  dateProto.getTimezoneOffset = function getTimezoneOffset() {
    return Number.isNaN(this.getTime()) ? NaN : 0;
  };

  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function year(d) {
    const y = d.getUTCFullYear();
    return y < 0 ? '-' + pad(-y, 6) : pad(y, 4);
  }
  function datePart(d) { return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${year(d)}`; }
  function timePart(d) {
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT+0000 (Coordinated Universal Time)`;
  }
  function utcString(d) { return Number.isNaN(d.getTime()) ? 'Invalid Date' : `${datePart(d)} ${timePart(d)}`; }
  function localeDate(d) { return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`; }
  function localeTime(d) {
    const h = d.getUTCHours() % 12 || 12;
    return `${h}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
  }
  dateProto.toString = function toString() { return utcString(this); };
  dateProto.toDateString = function toDateString() { return Number.isNaN(this.getTime()) ? 'Invalid Date' : datePart(this); };
  dateProto.toTimeString = function toTimeString() { return Number.isNaN(this.getTime()) ? 'Invalid Date' : timePart(this); };
  dateProto.toLocaleString = function toLocaleString() {
    return Number.isNaN(this.getTime()) ? 'Invalid Date' : `${localeDate(this)}, ${localeTime(this)}`;
  };
  dateProto.toLocaleDateString = function toLocaleDateString() { return Number.isNaN(this.getTime()) ? 'Invalid Date' : localeDate(this); };
  dateProto.toLocaleTimeString = function toLocaleTimeString() { return Number.isNaN(this.getTime()) ? 'Invalid Date' : localeTime(this); };
  dateProto.toISOString = origToISOString;
  globalThis.Date = CairnDate;

  // xoshiro128**: small, fast, and seeded per transaction.
  let s0 = 0; let s1 = 0; let s2 = 0; let s3 = 0;
  const rotl = (x, k) => (x << k) | (x >>> (32 - k));
  function next() {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return result >>> 0;
  }
  Math.random = function random() {
    const hi = next() >>> 5;
    const lo = next() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };

  // Called before every invocation with the transaction's time and id.
  internal.beginClock = function beginClock(millis, seedHex) {
    nowMillis = millis;
    s0 = parseInt(seedHex.slice(0, 8), 16) | 0;
    s1 = parseInt(seedHex.slice(8, 16), 16) | 0;
    s2 = parseInt(seedHex.slice(16, 24), 16) | 0;
    s3 = parseInt(seedHex.slice(24, 32), 16) | 0;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  };
})
