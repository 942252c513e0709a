import { describe, expect, it } from "vitest";
import { countdown, countdownText, fromLocalParts, toLocalParts } from "./time";

describe("open dates", () => {
  it("round-trips a local date and time through the UTC instant", () => {
    const iso = fromLocalParts("2031-07-14", "18:30");
    expect(iso).not.toBeNull();
    expect(toLocalParts(iso)).toEqual({ date: "2031-07-14", time: "18:30" });
  });

  it("is midnight when no time is given", () => {
    const iso = fromLocalParts("2030-01-02", "");
    expect(toLocalParts(iso)).toEqual({ date: "2030-01-02", time: "00:00" });
  });

  it("refuses dates the calendar does not have and malformed input", () => {
    expect(fromLocalParts("2030-02-31", "00:00")).toBeNull();
    expect(fromLocalParts("2030-13-01", "00:00")).toBeNull();
    expect(fromLocalParts("next tuesday", "00:00")).toBeNull();
    expect(fromLocalParts("2030-01-01", "25:00")).toBeNull();
  });
});

describe("countdowns", () => {
  const now = Date.UTC(2027, 0, 1, 0, 0, 0);

  it("splits what is left into whole units", () => {
    const c = countdown(new Date(now + ((3 * 24 + 4) * 3600 + 12 * 60 + 10) * 1000), now);
    expect(c).toEqual({ years: 0, yearDays: 3, days: 3, hours: 4, minutes: 12, seconds: 10, done: false });
    expect(countdownText(c)).toBe("3 d 4 h 12 min");
  });

  it("shows seconds only when they matter", () => {
    expect(countdownText(countdown(new Date(now + 4 * 3600_000 + 61_000), now))).toBe("4 h 1 min 1 s");
    expect(countdownText(countdown(new Date(now + 45_000), now))).toBe("45 s");
  });

  it("reads far dates in years", () => {
    expect(countdownText(countdown(new Date(Date.UTC(2040, 0, 10)), now))).toBe("13 years 9 d");
    expect(countdownText(countdown(new Date(Date.UTC(2028, 0, 1)), now))).toBe("1 year 0 d");
  });

  it("is done at the moment and after it", () => {
    expect(countdown(new Date(now), now).done).toBe(true);
    expect(countdown(new Date(now - 5000), now)).toMatchObject({ days: 0, seconds: 0, done: true });
    expect(countdownText(countdown(new Date(now - 1), now))).toBe("Opening now");
  });
});
