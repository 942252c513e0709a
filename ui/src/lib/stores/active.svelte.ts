// The capsule screen's store, while one is showing, so the app's events and drops reach it.

import type { CapsuleStore } from "./capsule.svelte";

class Active {
  capsule = $state<CapsuleStore | null>(null);
}

export const active = new Active();
