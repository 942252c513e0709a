import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CapsuleSummary } from "../backend";
import { FakeBackend } from "../testing/fakeBackend";
import { LibraryStore, REFRESH_DELAY_MS, arrange, countByState } from "./library.svelte";

function summary(id: string, state: CapsuleSummary["state"], openAt: string | null, updatedAt = "2026-01-01T00:00:00Z"): CapsuleSummary {
  return { id, title: id, state, openAt, timeZone: "UTC", photoCount: 0, cover: null, sealedAt: null, updatedAt, sync: { kind: "synced" } };
}

describe("arranging the library", () => {
  const list = [
    summary("undated-old", "draft", null, "2026-01-01T00:00:00Z"),
    summary("late", "sealed", "2040-01-01T00:00:00Z"),
    summary("undated-new", "draft", null, "2026-05-01T00:00:00Z"),
    summary("past", "opened", "2025-01-01T00:00:00Z"),
    summary("soon", "sealed", "2027-01-01T00:00:00Z"),
  ];

  it("sorts by open date either way with undated drafts last, newest edit first", () => {
    expect(arrange(list, "all", "soonest").map((c) => c.id)).toEqual(["past", "soon", "late", "undated-new", "undated-old"]);
    expect(arrange(list, "all", "latest").map((c) => c.id)).toEqual(["late", "soon", "past", "undated-new", "undated-old"]);
  });

  it("filters by state and counts each", () => {
    expect(arrange(list, "sealed", "soonest").map((c) => c.id)).toEqual(["soon", "late"]);
    expect(countByState(list)).toEqual({ all: 5, draft: 2, sealed: 2, opened: 1 });
  });
});

describe("the library store", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("reads the library once however many changes arrive together", async () => {
    const backend = new FakeBackend();
    backend.add({ title: "One" });
    const store = new LibraryStore(backend);
    await store.refresh();
    expect(store.capsules.map((c) => c.title)).toEqual(["One"]);
    backend.add({ title: "Two" });
    for (let i = 0; i < 50; i++) store.handle({ kind: "capsuleChanged", id: "c1" });
    store.handle({ kind: "uploadProgress", capsuleId: "c1", photoId: "p", done: 1, total: 2 });
    expect(backend.count("listCapsules")).toBe(1);
    await vi.advanceTimersByTimeAsync(REFRESH_DELAY_MS + 10);
    expect(backend.count("listCapsules")).toBe(2);
    expect(store.visible.map((c) => c.title).sort()).toEqual(["One", "Two"]);
  });

  it("keeps what it had and says why when the library cannot be read", async () => {
    const backend = new FakeBackend();
    backend.add({ title: "One" });
    const store = new LibraryStore(backend);
    await store.refresh();
    backend.listCapsules = async () => {
      throw new (await import("../errors")).AppError("storage", "Something went wrong while saving on this computer.");
    };
    await store.refresh();
    expect(store.capsules).toHaveLength(1);
    expect(store.error).toBe("Something went wrong while saving on this computer.");
  });
});
