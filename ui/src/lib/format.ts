// Numbers and states in words.

import type { CapsuleState, SyncState } from "./backend";

/** "1 photo", "12 photos". */
export function photos(n: number): string {
  return n === 1 ? "1 photo" : `${n.toLocaleString()} photos`;
}

/** "820 KB", "12.4 MB". */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const STATE_LABEL: Record<CapsuleState, string> = {
  draft: "Draft",
  sealed: "Sealed",
  opened: "Opened",
};

/** Where a capsule stands with the server, in a few words. */
export function syncWords(s: SyncState): string {
  switch (s.kind) {
    case "localOnly":
      return "Only on this computer";
    case "synced":
      return "Synced";
    case "waitingForNetwork":
      return "Waiting for the network";
    case "needsLogin":
      return "Log in again to sync";
    case "error":
      return s.reason || "Not synced";
    case "syncing": {
      const total = s.bytesTotal ?? 0;
      if (total <= 0) return "Syncing…";
      return `Uploading ${bytes(s.bytesDone ?? 0)} of ${bytes(total)}`;
    }
  }
}

/** The tone of a sync state, for its colour. */
export function syncTone(s: SyncState): "ok" | "busy" | "wait" | "bad" | "local" {
  switch (s.kind) {
    case "synced":
      return "ok";
    case "syncing":
      return "busy";
    case "waitingForNetwork":
      return "wait";
    case "localOnly":
      return "local";
    default:
      return "bad";
  }
}

/** Fraction of a sync done, 0..1, or null when there is nothing to measure. */
export function syncFraction(s: SyncState): number | null {
  if (s.kind !== "syncing") return null;
  const total = s.bytesTotal ?? 0;
  if (total <= 0) return null;
  return Math.min(1, (s.bytesDone ?? 0) / total);
}
