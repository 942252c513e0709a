// Dates as the person sees them: open dates picked and shown in the computer's time zone
// (midnight by default), kept as UTC instants, and countdowns to them.

/** The computer's IANA time zone. */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** "Europe/Paris (GMT+1)": the zone and its offset at `at`. */
export function zoneLabel(zone: string, at: Date = new Date()): string {
  try {
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, timeZoneName: "shortOffset" }).formatToParts(at);
    const offset = parts.find((p) => p.type === "timeZoneName")?.value ?? "";
    return offset ? `${zone.replaceAll("_", " ")} (${offset})` : zone;
  } catch {
    return zone;
  }
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The local calendar date and wall time of an instant, as date and time inputs take them. */
export function toLocalParts(iso: string | null | undefined): { date: string; time: string } {
  if (!iso) return { date: "", time: "00:00" };
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return { date: "", time: "00:00" };
  return {
    date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
  };
}

/** The UTC instant of a local date and wall time (midnight when no time is given). */
export function fromLocalParts(date: string, time: string): string | null {
  const dm = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  if (!dm) return null;
  const tm = /^(\d{1,2}):(\d{2})$/.exec(time.trim() || "00:00");
  if (!tm) return null;
  const [y, mo, da] = [Number(dm[1]), Number(dm[2]) - 1, Number(dm[3])];
  const [h, mi] = [Number(tm[1]), Number(tm[2])];
  if (h > 23 || mi > 59) return null;
  const d = new Date(y, mo, da, h, mi, 0, 0);
  // Reject dates the calendar does not have (31 February rolls over otherwise).
  if (d.getFullYear() !== y || d.getMonth() !== mo || d.getDate() !== da) return null;
  return d.toISOString();
}

export interface Countdown {
  /** Whole calendar years left, and the whole days after them. */
  years: number;
  yearDays: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
  /** The moment has come. */
  done: boolean;
}

/** What is left from `now` until `target`, in whole units. */
export function countdown(target: Date | string, now: Date | number = Date.now()): Countdown {
  const t = typeof target === "string" ? new Date(target).getTime() : target.getTime();
  const n = typeof now === "number" ? now : now.getTime();
  let left = Math.max(0, Math.floor((t - n) / 1000));
  const days = Math.floor(left / 86400);
  left -= days * 86400;
  const hours = Math.floor(left / 3600);
  left -= hours * 3600;
  const minutes = Math.floor(left / 60);
  let years = 0;
  let yearDays = days;
  if (days >= 365) {
    const from = new Date(n);
    years = new Date(t).getUTCFullYear() - from.getUTCFullYear();
    const step = (y: number) => {
      const d = new Date(n);
      d.setUTCFullYear(d.getUTCFullYear() + y);
      return d.getTime();
    };
    if (step(years) > t) years--;
    yearDays = Math.floor((t - step(years)) / 86_400_000);
  }
  return { years, yearDays, days, hours, minutes, seconds: left - minutes * 60, done: t <= n };
}

/** A countdown in few words: "13 years 195 d", "3 d 4 h 12 min", "4 h 12 min 10 s", "45 s". */
export function countdownText(c: Countdown): string {
  if (c.done) return "Opening now";
  if (c.years > 0) return `${c.years} ${c.years === 1 ? "year" : "years"} ${c.yearDays} d`;
  if (c.days > 0) return `${c.days} d ${c.hours} h ${c.minutes} min`;
  if (c.hours > 0) return `${c.hours} h ${c.minutes} min ${c.seconds} s`;
  if (c.minutes > 0) return `${c.minutes} min ${c.seconds} s`;
  return `${c.seconds} s`;
}

/** "Fri 1 Jan 2027, 00:00" in the computer's zone. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "No date yet";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "No date yet";
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(d);
}

/** "1 January 2027". */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" }).format(d);
}
