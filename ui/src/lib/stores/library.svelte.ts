// The library: every capsule on this computer, filtered and sorted for the grid, read
// again (at most a few times a second) whenever the app says something changed.

import type { AppEvent, Backend, CapsuleState, CapsuleSummary } from "../backend";
import { sentence } from "../errors";

export type Filter = "all" | CapsuleState;
export type Order = "soonest" | "latest";

/** Capsules of one state (or all), by open date; undated drafts last either way. */
export function arrange(list: CapsuleSummary[], filter: Filter, order: Order): CapsuleSummary[] {
  const picked = filter === "all" ? list.slice() : list.filter((c) => c.state === filter);
  const key = (c: CapsuleSummary) => (c.openAt ? Date.parse(c.openAt) : NaN);
  return picked.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (Number.isNaN(ka) || Number.isNaN(kb)) {
      if (Number.isNaN(ka) && Number.isNaN(kb)) return b.updatedAt.localeCompare(a.updatedAt);
      return Number.isNaN(ka) ? 1 : -1;
    }
    return order === "soonest" ? ka - kb : kb - ka;
  });
}

export function countByState(list: CapsuleSummary[]): Record<Filter, number> {
  const counts: Record<Filter, number> = { all: list.length, draft: 0, sealed: 0, opened: 0 };
  for (const c of list) counts[c.state]++;
  return counts;
}

/** How long changes are gathered before the library is read again. */
export const REFRESH_DELAY_MS = 200;

export class LibraryStore {
  capsules = $state<CapsuleSummary[]>([]);
  filter = $state<Filter>("all");
  order = $state<Order>("soonest");
  loaded = $state(false);
  error = $state<string | null>(null);
  visible = $derived(arrange(this.capsules, this.filter, this.order));
  counts = $derived(countByState(this.capsules));
  #pending: ReturnType<typeof setTimeout> | null = null;

  constructor(private backend: Backend) {}

  async refresh(): Promise<void> {
    try {
      this.capsules = await this.backend.listCapsules();
      this.error = null;
    } catch (e) {
      this.error = sentence(e);
    } finally {
      this.loaded = true;
    }
  }

  /** Reads the library again soon, once for however many changes arrive meanwhile. */
  scheduleRefresh(): void {
    if (this.#pending !== null) return;
    this.#pending = setTimeout(() => {
      this.#pending = null;
      void this.refresh();
    }, REFRESH_DELAY_MS);
  }

  handle(e: AppEvent): void {
    if (e.kind === "capsuleChanged" || e.kind === "capsuleUnlocked" || e.kind === "signedOut") {
      this.scheduleRefresh();
    }
  }
}
