// The one door from the views to the app: every command, event, file picker and drop goes
// through a `Backend`, so views never call Tauri themselves and tests swap in a fake.

import { commands, events } from "./bindings.gen";
import type {
  AppInfo_Serialize as AppInfo,
  CapsuleDetail_Serialize as CapsuleDetail,
  CapsuleImport,
  CapsuleSummary_Serialize as CapsuleSummary,
  CapsuleWrite_Serialize as CapsuleWrite,
  CommandError,
  ExportReport,
  RecipientDelivery_Serialize as RecipientDelivery,
  Reminders_Serialize as Reminders,
  UpdateOffer_Serialize as UpdateOffer,
  UpdateSettings_Serialize as UpdateSettings,
} from "./bindings.gen";
import { AppError, type ErrorKind } from "./errors";

export type {
  AppInfo,
  CapsuleDetail,
  CapsuleImport,
  CapsuleSummary,
  CapsuleWrite,
  ExportReport,
  RecipientDelivery,
  Reminders,
  UpdateOffer,
  UpdateSettings,
};
export type { PhotoView_Serialize as PhotoView, SyncState, CapsuleState, SkippedFile } from "./bindings.gen";

/** What the app tells the window, by kind. */
export type AppEvent =
  | { kind: "capsuleChanged"; id: string }
  | { kind: "uploadProgress"; capsuleId: string; photoId: string; done: number; total: number }
  | { kind: "signedOut"; email: string | null }
  | { kind: "importProgress"; capsuleId: string; done: number; total: number; fileName: string }
  | { kind: "importFinished"; capsuleId: string; report: CapsuleImport }
  | { kind: "exportProgress"; capsuleId: string; done: number; total: number }
  | { kind: "capsuleUnlocked"; id: string; title: string }
  | { kind: "showCapsule"; id: string }
  | { kind: "updateOffer"; offer: UpdateOffer }
  | { kind: "updateProgress"; received: number; total: number };

/** A drag of files over the window, and its drop. */
export type DropEvent =
  | { kind: "over" }
  | { kind: "drop"; paths: string[] }
  | { kind: "leave" };

export type Unlisten = () => void;

export interface Backend {
  appInfo(): Promise<AppInfo>;
  finishWelcome(): Promise<AppInfo>;
  signUp(server: string, email: string, password: string): Promise<AppInfo>;
  logIn(server: string, email: string, password: string): Promise<AppInfo>;
  logOut(): Promise<AppInfo>;
  changePassword(current: string, next: string): Promise<void>;
  deleteAccount(password: string): Promise<AppInfo>;
  syncNow(): Promise<void>;

  listCapsules(): Promise<CapsuleSummary[]>;
  getCapsule(id: string): Promise<CapsuleDetail>;
  createCapsule(fields: CapsuleWrite): Promise<CapsuleDetail>;
  updateCapsule(id: string, fields: CapsuleWrite): Promise<CapsuleDetail>;
  deleteCapsule(id: string): Promise<void>;
  /** Seals; with `timeLockOnly` no escrow key can open it, only the drand beacon of its date;
   *  `reminders` go to the server, which sends them before the date. */
  sealCapsule(id: string, timeLockOnly: boolean, reminders: Reminders | null): Promise<CapsuleDetail>;
  /** Why the draft, as saved, cannot be sealed now; null when it can. */
  checkSeal(id: string): Promise<string | null>;
  /** The address as it will be stored, or an AppError saying what is wrong. */
  checkEmail(address: string): Promise<string>;
  /** The first problem with these fields, or null. */
  checkCapsule(fields: CapsuleWrite): Promise<string | null>;
  markRevealed(id: string): Promise<void>;
  refreshDeliveries(id: string): Promise<RecipientDelivery[]>;
  /** Sends a bounced or failed email again, to the same address or to `to`. */
  resendDelivery(id: string, recipient: string, to: string | null): Promise<RecipientDelivery[]>;

  importPhotos(capsuleId: string, paths: string[]): Promise<CapsuleImport>;
  cancelImport(): Promise<void>;
  removePhoto(capsuleId: string, photoId: string): Promise<void>;
  fetchOriginal(capsuleId: string, photoId: string): Promise<void>;
  exportOriginals(capsuleId: string, folder: string): Promise<ExportReport>;
  /** Takes back a sealed capsule's folder; it opens on this computer on its date. */
  importSealed(folder: string): Promise<CapsuleDetail>;
  cancelExport(): Promise<void>;

  setNotifications(on: boolean): Promise<AppInfo>;
  setAutostart(on: boolean): Promise<AppInfo>;
  uiReady(capsules: number): Promise<void>;

  /** How this copy of the app updates itself. */
  updateSettings(): Promise<UpdateSettings>;
  /** Keeps the person's update feed; null goes back to the one the app came with. */
  setUpdateFeed(url: string | null): Promise<UpdateSettings>;
  setUpdateChecks(on: boolean): Promise<UpdateSettings>;
  /** Asks the feed now: the newer version, or null when this is the newest. */
  checkForUpdate(): Promise<UpdateOffer | null>;
  /** Downloads, verifies and installs what the last check offered; answers its version. */
  installUpdate(): Promise<string>;
  /** Starts the app again, as the version now installed. */
  restartApp(): Promise<void>;

  /** The system's picker: photo files (or folders) to add; null when dismissed. */
  pickPhotos(folders: boolean): Promise<string[] | null>;
  /** The system's picker: one folder, under `title`; null when dismissed. */
  pickFolder(title: string): Promise<string | null>;
  /** A URL the window can load a photo from. */
  mediaUrl(kind: "thumb" | "preview" | "original", sha256: string): string;

  onEvent(handler: (e: AppEvent) => void): Promise<Unlisten>;
  onDrop(handler: (e: DropEvent) => void): Promise<Unlisten>;
}

type Answer<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

async function ok<T>(p: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await p;
  } catch (e) {
    // The bridge itself failed (an unknown command, a denied permission): not the person's
    // doing, so a plain sentence with the detail kept for the log.
    throw AppError.unexpected(e);
  }
  if (answer.status === "error") {
    const e: unknown = answer.error;
    if (typeof e === "object" && e !== null && "code" in e && "message" in e) {
      throw new AppError(e.code as ErrorKind, String(e.message));
    }
    throw AppError.unexpected(e);
  }
  return answer.data;
}

const PHOTO_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "bmp", "heic", "heif"];

/** The real backend: the app's commands over Tauri's bridge. */
export async function tauriBackend(): Promise<Backend> {
  const core = await import("@tauri-apps/api/core");
  const dialog = await import("@tauri-apps/plugin-dialog");
  const webview = await import("@tauri-apps/api/webview");
  return {
    appInfo: () => ok(commands.appInfo()),
    finishWelcome: () => ok(commands.finishWelcome()),
    signUp: (s, e, p) => ok(commands.signUp(s, e, p)),
    logIn: (s, e, p) => ok(commands.logIn(s, e, p)),
    logOut: () => ok(commands.logOut()),
    changePassword: (c, n) => ok(commands.changePassword(c, n)).then(() => undefined),
    deleteAccount: (p) => ok(commands.deleteAccount(p)),
    syncNow: () => ok(commands.syncNow()).then(() => undefined),

    listCapsules: () => ok(commands.listCapsules()),
    getCapsule: (id) => ok(commands.getCapsule(id)),
    createCapsule: (f) => ok(commands.createCapsule(f)),
    updateCapsule: (id, f) => ok(commands.updateCapsule(id, f)),
    deleteCapsule: (id) => ok(commands.deleteCapsule(id)).then(() => undefined),
    sealCapsule: (id, t, r) => ok(commands.sealCapsule(id, t, r)),
    checkSeal: (id) => ok(commands.checkSeal(id)),
    checkEmail: (a) => ok(commands.checkEmail(a)),
    checkCapsule: (f) => commands.checkCapsule(f),
    markRevealed: (id) => ok(commands.markRevealed(id)).then(() => undefined),
    refreshDeliveries: (id) => ok(commands.refreshDeliveries(id)),
    resendDelivery: (id, r, to) => ok(commands.resendDelivery(id, r, to)),

    importPhotos: (c, p) => ok(commands.importPhotos(c, p)),
    cancelImport: () => commands.cancelImport(),
    removePhoto: (c, p) => ok(commands.removePhoto(c, p)).then(() => undefined),
    fetchOriginal: (c, p) => ok(commands.fetchOriginal(c, p)).then(() => undefined),
    exportOriginals: (c, f) => ok(commands.exportOriginals(c, f)),
    importSealed: (f) => ok(commands.importSealed(f)),
    cancelExport: () => commands.cancelExport(),

    setNotifications: (on) => ok(commands.setNotifications(on)),
    setAutostart: (on) => ok(commands.setAutostart(on)),
    uiReady: (n) => commands.uiReady(n),

    updateSettings: () => ok(commands.updateSettings()),
    setUpdateFeed: (url) => ok(commands.setUpdateFeed(url)),
    setUpdateChecks: (on) => ok(commands.setUpdateChecks(on)),
    checkForUpdate: () => ok(commands.checkForUpdate()),
    installUpdate: () => ok(commands.installUpdate()),
    restartApp: () => commands.restartApp(),

    pickPhotos: async (folders) => {
      const picked = await dialog.open({
        multiple: true,
        directory: folders,
        title: folders ? "Add folders of photos" : "Add photos",
        filters: folders ? undefined : [{ name: "Photos", extensions: PHOTO_EXTENSIONS }],
      });
      if (picked === null) return null;
      return Array.isArray(picked) ? picked : [picked];
    },
    pickFolder: async (title) => {
      const picked = await dialog.open({ directory: true, multiple: false, title });
      return typeof picked === "string" ? picked : null;
    },
    mediaUrl: (kind, sha) => core.convertFileSrc(`${kind}/${sha}`, "media"),

    onEvent: async (handler) => {
      const offs = await Promise.all([
        events.capsuleChanged.listen((e) => handler({ kind: "capsuleChanged", ...e.payload })),
        events.uploadProgress.listen((e) =>
          handler({
            kind: "uploadProgress",
            capsuleId: e.payload.capsuleId,
            photoId: e.payload.photoId,
            done: e.payload.done ?? 0,
            total: e.payload.total ?? 0,
          }),
        ),
        events.signedOut.listen((e) => handler({ kind: "signedOut", email: e.payload.email ?? null })),
        events.importProgress.listen((e) => handler({ kind: "importProgress", ...e.payload })),
        events.importFinished.listen((e) => handler({ kind: "importFinished", ...e.payload })),
        events.exportProgress.listen((e) => handler({ kind: "exportProgress", ...e.payload })),
        events.capsuleUnlocked.listen((e) => handler({ kind: "capsuleUnlocked", ...e.payload })),
        events.showCapsule.listen((e) => handler({ kind: "showCapsule", ...e.payload })),
        events.updateOffer.listen((e) => handler({ kind: "updateOffer", offer: e.payload })),
        events.updateProgress.listen((e) => handler({ kind: "updateProgress", ...e.payload })),
      ]);
      return () => offs.forEach((off) => off());
    },
    onDrop: async (handler) =>
      webview.getCurrentWebview().onDragDropEvent((e) => {
        const p = e.payload;
        if (p.type === "drop") handler({ kind: "drop", paths: p.paths });
        else if (p.type === "leave") handler({ kind: "leave" });
        else handler({ kind: "over" });
      }),
  };
}
