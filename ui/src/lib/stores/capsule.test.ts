import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppError } from "../errors";
import { FakeBackend } from "../testing/fakeBackend";
import rules from "../testing/rules.gen.json";
import { CapsuleStore, SAVE_DELAY_MS } from "./capsule.svelte";

describe("a draft on screen", () => {
  let backend: FakeBackend;
  let store: CapsuleStore;

  beforeEach(async () => {
    vi.useFakeTimers();
    backend = new FakeBackend();
    const d = backend.add({ title: "Trip", note: "", openAt: "2030-06-01T10:00:00.000Z" });
    store = new CapsuleStore(backend, d.id);
    await store.load();
  });
  afterEach(() => vi.useRealTimers());

  it("saves once, shortly after the last keystroke", async () => {
    for (const t of ["T", "Tr", "Tri", "Trip to the lake"]) {
      store.title = t;
      store.edited();
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(store.save).toBe("pending");
    expect(backend.count("updateCapsule")).toBe(0);
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS);
    expect(backend.count("updateCapsule")).toBe(1);
    expect(store.save).toBe("saved");
    expect(backend.capsules.get(store.id)?.title).toBe("Trip to the lake");
  });

  it("does not save fields the rules refuse, and says why", async () => {
    store.title = "   ";
    store.edited();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS + 10);
    expect(backend.count("updateCapsule")).toBe(0);
    expect(store.save).toBe("invalid");
    expect(store.problem).toBe(rules.title["   "]);
  });

  it("refuses a date the calendar does not have", async () => {
    store.date = "2031-02-30";
    store.edited();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS + 10);
    expect(store.save).toBe("invalid");
    expect(backend.count("updateCapsule")).toBe(0);
  });

  it("saves what was typed before sealing", async () => {
    store.note = "see you then";
    store.edited();
    expect(await store.seal()).toBeNull();
    const calls = backend.calls.map((c) => c.name).filter((n) => n === "updateCapsule" || n === "sealCapsule");
    expect(calls).toEqual(["updateCapsule", "sealCapsule"]);
    expect(store.detail?.state).toBe("sealed");
  });

  it("shows what an import left out, whoever started it", async () => {
    store.handle({ kind: "importProgress", capsuleId: store.id, done: 1, total: 3, fileName: "a.jpg" });
    expect(store.importing).toEqual({ done: 1, total: 3, fileName: "a.jpg" });
    store.handle({
      kind: "importFinished",
      capsuleId: store.id,
      report: {
        added: 2,
        alreadyIn: 0,
        cancelled: false,
        skipped: [{ path: "/x/b.heic", fileName: "b.heic", code: "heic_not_supported", reason: "HEIC photos are not accepted." }],
      },
    });
    expect(store.importing).toBeNull();
    expect(store.skipped.map((s) => s.fileName)).toEqual(["b.heic"]);
    store.handle({ kind: "importFinished", capsuleId: "another", report: { added: 1, alreadyIn: 0, cancelled: false, skipped: [] } });
    expect(store.skipped).toHaveLength(1);
  });

  it("turns to the sealed capsule when a save finds it sealed on another computer", async () => {
    backend.capsules.get(store.id)!.state = "sealed";
    backend.failNext.set("updateCapsule", new AppError("capsule_sealed", "This capsule is sealed."));
    store.title = "Too late";
    store.edited();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS + 10);
    expect(store.save).toBe("saved");
    expect(store.problem).toBeNull();
    expect(store.detail?.state).toBe("sealed");
  });

  it("keeps a failed save for another try, with the reason", async () => {
    backend.failNext.set("updateCapsule", new AppError("storage", "The disk is full."));
    store.title = "Kept";
    store.edited();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS + 10);
    expect(store.save).toBe("failed");
    expect(store.problem).toBe("The disk is full.");
    await store.flush();
    expect(store.save).toBe("saved");
    expect(backend.capsules.get(store.id)?.title).toBe("Kept");
  });

  it("says why it cannot be sealed, and stops saying it as soon as that is fixed", async () => {
    backend.sealProblem = "Add a photo or write a note before sealing.";
    expect(await store.checkSeal()).toBe(false);
    expect(store.sealProblem).toBe(backend.sealProblem);
    backend.sealProblem = null;
    store.note = "see you then";
    store.edited();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS + 10);
    expect(store.sealProblem).toBeNull();
    expect(await store.checkSeal()).toBe(true);
  });

  it("keeps a title problem in one place: not again as a reason it cannot be sealed", async () => {
    backend.sealProblem = "Pick the date the capsule opens before sealing.";
    store.title = "   ";
    store.edited();
    expect(await store.checkSeal()).toBe(false);
    expect(store.problem).toBe(rules.title["   "]);
    expect(store.sealProblem).toBeNull();
  });

  it("keeps typed edits when sync changes the capsule meanwhile", async () => {
    store.title = "Typed here";
    store.edited();
    backend.capsules.get(store.id)!.title = "Changed elsewhere";
    store.handle({ kind: "capsuleChanged", id: store.id });
    await vi.advanceTimersByTimeAsync(1);
    expect(store.title).toBe("Typed here");
  });
});
