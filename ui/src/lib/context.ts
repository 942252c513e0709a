// The app-wide objects the root hands down, typed.

import { getContext } from "svelte";
import type { Backend } from "./backend";
import type { LibraryStore } from "./stores/library.svelte";
import type { Session } from "./stores/session.svelte";

export const useBackend = () => getContext<Backend>("backend");
export const useSession = () => getContext<Session>("session");
export const useLibrary = () => getContext<LibraryStore>("library");
