import { describe, expect, it } from "vitest";
import { bytes, photos, syncFraction, syncTone, syncWords } from "./format";

describe("words for numbers and states", () => {
  it("counts photos and bytes as people read them", () => {
    expect(photos(1)).toBe("1 photo");
    expect(photos(0)).toBe("0 photos");
    expect(bytes(999)).toBe("999 B");
    expect(bytes(4_500_000)).toBe("4.5 MB");
    expect(bytes(250_000_000)).toBe("250 MB");
    expect(bytes(2_100_000_000)).toBe("2.1 GB");
  });

  it("says where a capsule stands with the server", () => {
    expect(syncWords({ kind: "localOnly" })).toBe("Only on this computer");
    expect(syncWords({ kind: "syncing", bytesDone: 1_000_000, bytesTotal: 4_000_000 })).toBe(
      "Uploading 1.0 MB of 4.0 MB",
    );
    expect(syncWords({ kind: "syncing", bytesDone: 0, bytesTotal: 0 })).toBe("Syncing…");
    expect(syncWords({ kind: "error", reason: "The open date must be at least 1 minute from now." })).toBe(
      "The open date must be at least 1 minute from now.",
    );
    expect(syncTone({ kind: "needsLogin" })).toBe("bad");
    expect(syncFraction({ kind: "syncing", bytesDone: 5, bytesTotal: 10 })).toBe(0.5);
    expect(syncFraction({ kind: "synced" })).toBeNull();
  });
});
