// The app-wide objects the root hands down, typed.

import { getContext } from "svelte";
import type { Backend } from "./backend";
import type { LibraryStore } from "./stores/library.svelte";
import type { Session } from "./stores/session.svelte";
import type { AppUpdates } from "./stores/updates.svelte";

export const useBackend = () => getContext<Backend>("backend");
export const useSession = () => getContext<Session>("session");
export const useLibrary = () => getContext<LibraryStore>("library");
export const useUpdates = () => getContext<AppUpdates>("updates");
