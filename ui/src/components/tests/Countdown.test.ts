import { render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Countdown from "../Countdown.svelte";

describe("the countdown", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(Date.UTC(2027, 0, 1, 0, 0, 0)));
  });
  afterEach(() => vi.useRealTimers());

  it("ticks every second", async () => {
    render(Countdown, { props: { to: new Date(Date.UTC(2027, 0, 1, 0, 1, 5)).toISOString() } });
    expect(screen.getByRole("timer").textContent).toBe("1 min 5 s");
    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.getByRole("timer").textContent).toBe("1 min 3 s");
  });

  it("shows years in the big boxes when the date is far", () => {
    render(Countdown, { props: { to: new Date(Date.UTC(2040, 5, 14)).toISOString(), big: true } });
    const text = screen.getByRole("timer").textContent ?? "";
    expect(text).toMatch(/13\s*years/);
    expect(text).toMatch(/days/);
    expect(text).not.toMatch(/seconds/);
  });

  it("says it is opening once the moment has come", () => {
    render(Countdown, { props: { to: new Date(Date.UTC(2026, 11, 31)).toISOString() } });
    expect(screen.getByText("Opening…")).toBeTruthy();
  });
});
