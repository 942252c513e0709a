// An in-memory Backend for the UI's unit tests: the same interface the views use, with
// calls recorded and answers the test can shape.

import type {
  AppEvent,
  AppInfo,
  Backend,
  CapsuleDetail,
  CapsuleImport,
  CapsuleSummary,
  CapsuleWrite,
  DropEvent,
  RecipientDelivery,
  Reminders,
  UpdateOffer,
  UpdateSettings,
} from "../backend";
import { AppError } from "../errors";
import rules from "./rules.gen.json";

/** The app's rule answer for a sample input, from the fixture the Rust side writes. */
function ruled<T>(table: Record<string, T>, kind: string, input: string): T {
  if (!(input in table)) {
    throw new Error(
      `rules.gen.json has no ${kind} answer for ${JSON.stringify(input)}: add it to the samples in src-tauri/fixtures.rs and run ITC_UPDATE_BINDINGS=1 cargo test -p image-time-capsule bindings`,
    );
  }
  return table[input];
}

export class FakeBackend implements Backend {
  calls: { name: string; args: unknown[] }[] = [];
  capsules = new Map<string, CapsuleDetail>();
  info: AppInfo = {
    version: "0.1.0",
    dataDir: "/home/me/.local/share/itc",
    defaultServer: "http://127.0.0.1:8080",
    account: null,
    sessionEnded: false,
    welcomed: true,
    notifications: true,
    autostart: false,
    offline: false,
  };
  importAnswer: CapsuleImport = { added: 0, alreadyIn: 0, skipped: [], cancelled: false };
  /** What `checkSeal` answers: the app's reason a draft cannot be sealed, or null. */
  sealProblem: string | null = null;
  listeners: ((e: AppEvent) => void)[] = [];
  /** Calls that fail next, by name: the error is thrown once, then the call works again. */
  failNext = new Map<string, AppError>();
  private next = 1;

  private record(name: string, ...args: unknown[]) {
    this.calls.push({ name, args });
    const fail = this.failNext.get(name);
    if (fail) {
      this.failNext.delete(name);
      throw fail;
    }
  }

  count(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  emit(e: AppEvent) {
    this.listeners.forEach((l) => l(e));
  }

  add(partial: Partial<CapsuleDetail> & { title: string }): CapsuleDetail {
    const id = partial.id ?? `c${this.next++}`;
    const d: CapsuleDetail = {
      id,
      note: "",
      openAt: null,
      timeZone: "UTC",
      recipients: [],
      state: "draft",
      photos: [],
      photoCount: 0,
      sealedAt: null,
      updatedAt: new Date(2026, 0, this.next).toISOString(),
      sync: { kind: "localOnly" },
      revealed: false,
      notifiedAt: null,
      deliveries: null,
      lock: null,
      timeLockOnly: false,
      sealedHere: false,
      waitingFor: null,
      ...partial,
    };
    this.capsules.set(id, d);
    return d;
  }

  async appInfo() {
    this.record("appInfo");
    return this.info;
  }
  async finishWelcome() {
    this.info = { ...this.info, welcomed: true };
    return this.info;
  }
  async signUp(server: string, email: string) {
    this.record("signUp", server, email);
    this.info = { ...this.info, account: { email, serverUrl: server } };
    return this.info;
  }
  async logIn(server: string, email: string, password: string) {
    this.record("logIn", server, email, password);
    this.info = { ...this.info, account: { email, serverUrl: server }, sessionEnded: false };
    return this.info;
  }
  async logOut() {
    this.info = { ...this.info, account: null };
    return this.info;
  }
  async changePassword(current: string, next: string) {
    this.record("changePassword", current, next);
  }
  async deleteAccount() {
    return this.info;
  }
  async syncNow() {
    this.record("syncNow");
  }

  async listCapsules(): Promise<CapsuleSummary[]> {
    this.record("listCapsules");
    return [...this.capsules.values()].map((d) => ({
      id: d.id,
      title: d.title,
      state: d.state,
      openAt: d.openAt,
      timeZone: d.timeZone,
      photoCount: d.photoCount,
      cover: null,
      sealedAt: d.sealedAt,
      updatedAt: d.updatedAt,
      sync: d.sync,
    }));
  }
  async getCapsule(id: string) {
    this.record("getCapsule", id);
    return structuredClone(this.found(id));
  }
  private found(id: string): CapsuleDetail {
    const d = this.capsules.get(id);
    if (!d) throw new AppError("not_found", rules.messages.capsuleNotFound);
    return d;
  }
  async createCapsule(f: CapsuleWrite) {
    this.record("createCapsule", f);
    return this.add({ title: f.title, note: f.note, openAt: f.open_at, recipients: f.recipients });
  }
  async updateCapsule(id: string, f: CapsuleWrite) {
    this.record("updateCapsule", id, f);
    const d = this.found(id);
    Object.assign(d, { title: f.title, note: f.note, openAt: f.open_at, recipients: f.recipients });
    return structuredClone(d);
  }
  async deleteCapsule(id: string) {
    this.capsules.delete(id);
  }
  async sealCapsule(id: string, timeLockOnly: boolean, reminders: Reminders | null) {
    this.record("sealCapsule", id, timeLockOnly, reminders);
    const d = this.found(id);
    Object.assign(d, { state: "sealed", note: "", photos: [], recipients: [], timeLockOnly });
    return structuredClone(d);
  }
  async checkSeal(id: string) {
    this.record("checkSeal", id);
    return this.sealProblem;
  }
  async checkEmail(address: string) {
    this.record("checkEmail", address);
    const answer: { ok?: string; error?: string } = ruled(rules.email, "email", address);
    if (answer.error !== undefined) throw new AppError("invalid", answer.error);
    return answer.ok ?? address;
  }
  async checkCapsule(f: CapsuleWrite) {
    this.record("checkCapsule", f);
    return ruled(rules.title, "title", f.title);
  }
  async markRevealed() {}
  /** Each capsule's emails, as `refreshDeliveries` and `resendDelivery` answer them. */
  deliveries = new Map<string, RecipientDelivery[]>();
  async refreshDeliveries(id: string) {
    this.record("refreshDeliveries", id);
    return this.deliveries.get(id) ?? [];
  }
  async resendDelivery(id: string, recipient: string, to: string | null) {
    this.record("resendDelivery", id, recipient, to);
    const list = (this.deliveries.get(id) ?? []).map((d) =>
      d.recipient === recipient
        ? { recipient: to ?? recipient, status: "queued" as const, attempts: 0 }
        : d,
    );
    this.deliveries.set(id, list);
    return list;
  }
  async importPhotos(capsuleId: string, paths: string[]) {
    this.record("importPhotos", capsuleId, paths);
    return this.importAnswer;
  }
  async cancelImport() {}
  async removePhoto() {}
  async fetchOriginal() {}
  async exportOriginals() {
    return { written: [], failed: [], cancelled: false, gallery: null };
  }
  async cancelExport() {}
  async importSealed(folder: string): Promise<CapsuleDetail> {
    this.record("importSealed", folder);
    throw new AppError("invalid", `${folder} has no readable manifest.json: it is not a sealed capsule's folder.`);
  }
  async setNotifications(on: boolean) {
    this.info = { ...this.info, notifications: on };
    return this.info;
  }
  async setAutostart(on: boolean) {
    this.info = { ...this.info, autostart: on };
    return this.info;
  }
  async uiReady() {}

  updates: UpdateSettings = {
    currentVersion: "0.1.0",
    unavailable: null,
    feed: "https://updates.example.org/itc/latest.json",
    customFeed: false,
    builtInFeed: "https://updates.example.org/itc/latest.json",
    automatic: true,
    offer: null,
  };
  /** What the next `checkForUpdate` finds. */
  newer: UpdateOffer | null = null;
  async updateSettings() {
    return this.updates;
  }
  async setUpdateFeed(url: string | null) {
    this.record("setUpdateFeed", url);
    const feed = url ?? this.updates.builtInFeed;
    this.updates = { ...this.updates, feed, customFeed: url !== null };
    return this.updates;
  }
  async setUpdateChecks(on: boolean) {
    this.record("setUpdateChecks", on);
    this.updates = { ...this.updates, automatic: on };
    return this.updates;
  }
  async checkForUpdate() {
    this.record("checkForUpdate");
    return this.newer;
  }
  async installUpdate() {
    this.record("installUpdate");
    if (!this.newer) throw new AppError("invalid", "There is no update to install; check for updates first.");
    this.emit({ kind: "updateProgress", received: 512, total: 1024 });
    this.emit({ kind: "updateProgress", received: 1024, total: 1024 });
    return this.newer.version;
  }
  async restartApp() {
    this.record("restartApp");
  }
  async pickPhotos() {
    return null;
  }
  folderAnswer: string | null = null;
  async pickFolder(title: string) {
    this.record("pickFolder", title);
    return this.folderAnswer;
  }
  mediaUrl(kind: string, sha: string) {
    return `media://localhost/${kind}/${sha}`;
  }
  async onEvent(handler: (e: AppEvent) => void) {
    this.listeners.push(handler);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== handler);
    };
  }
  async onDrop(_handler: (e: DropEvent) => void) {
    return () => {};
  }
}
