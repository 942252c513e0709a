// One capsule on screen. For a draft it holds the fields as typed and saves them by
// itself shortly after the last keystroke (checked by the same rules the server uses);
// it follows imports, uploads and changes from sync as the app reports them.

import type {
  AppEvent,
  Backend,
  CapsuleDetail,
  CapsuleImport,
  CapsuleWrite,
  Reminders,
  SkippedFile,
} from "../backend";
import { appError, sentence } from "../errors";
import { fromLocalParts, localZone, toLocalParts } from "../time";

export type SaveState = "saved" | "pending" | "saving" | "invalid" | "failed";

/** How long after the last edit a draft is saved. */
export const SAVE_DELAY_MS = 500;

export class CapsuleStore {
  detail = $state<CapsuleDetail | null>(null);
  loadError = $state<string | null>(null);

  title = $state("");
  note = $state("");
  date = $state("");
  time = $state("00:00");
  recipients = $state<string[]>([]);

  save = $state<SaveState>("saved");
  /** Why the fields cannot be saved, or why saving failed. */
  problem = $state<string | null>(null);
  /** Why the draft cannot be sealed yet, once the person tried to; asked of the app again
   *  after each save, import and removal, so it goes as soon as it is fixed. */
  sealProblem = $state<string | null>(null);
  #sealTried = false;

  importing = $state<{ done: number; total: number; fileName: string } | null>(null);
  lastImport = $state<CapsuleImport | null>(null);
  skipped = $state<SkippedFile[]>([]);
  /** Bytes sent per photo, while uploads run. */
  uploads = $state<Record<string, { done: number; total: number }>>({});

  #timer: ReturnType<typeof setTimeout> | null = null;
  #saving: Promise<void> | null = null;

  constructor(
    private backend: Backend,
    readonly id: string,
  ) {}

  async load(): Promise<void> {
    try {
      this.show(await this.backend.getCapsule(this.id), true);
      this.loadError = null;
    } catch (e) {
      this.loadError = sentence(e);
    }
  }

  /** Takes the app's view of the capsule; the typed fields too unless edits are waiting. */
  private show(d: CapsuleDetail, fields: boolean): void {
    this.detail = d;
    if (fields && (this.save === "saved" || d.state !== "draft")) {
      this.title = d.title;
      this.note = d.note;
      const parts = toLocalParts(d.openAt);
      this.date = parts.date;
      this.time = parts.time;
      this.recipients = d.recipients.slice();
    }
  }

  /** The fields as typed, in the form the app stores. */
  fields(): CapsuleWrite {
    return {
      title: this.title,
      note: this.note,
      open_at: this.date ? fromLocalParts(this.date, this.time) : null,
      time_zone: localZone(),
      recipients: this.recipients.slice(),
    };
  }

  /** Something was typed: save soon. */
  edited(): void {
    this.save = "pending";
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, SAVE_DELAY_MS);
  }

  /** Saves what was typed now (if anything waits); answers when it is stored or refused. */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    while (this.#saving) await this.#saving;
    if (this.save !== "pending" && this.save !== "failed" && this.save !== "invalid") return;
    this.#saving = this.saveNow();
    try {
      await this.#saving;
    } finally {
      this.#saving = null;
    }
  }

  private async saveNow(): Promise<void> {
    const fields = this.fields();
    if (this.date && fields.open_at === null) {
      this.save = "invalid";
      this.problem = "That date does not exist; pick another.";
      return;
    }
    const problem = await this.backend.checkCapsule(fields);
    if (problem) {
      this.save = "invalid";
      this.problem = problem;
      return;
    }
    this.save = "saving";
    try {
      const d = await this.backend.updateCapsule(this.id, fields);
      // Edits typed while this save ran stay pending and are saved next.
      if (this.save === "saving") {
        this.save = "saved";
        this.problem = null;
      }
      this.show(d, false);
      await this.recheckSeal();
    } catch (e) {
      if (appError(e)?.sealed) {
        // Sealed meanwhile (on another computer): nothing typed here can go in any more,
        // so the screen becomes the sealed one instead of showing a failed save.
        this.save = "saved";
        this.problem = null;
        await this.load();
        return;
      }
      this.save = "failed";
      this.problem = sentence(e);
    }
  }

  /** Imports dropped or picked files and folders into this draft; what came of it arrives
   *  as an `importFinished` event, whoever started the import. */
  async addPaths(paths: string[]): Promise<string | null> {
    if (paths.length === 0) return null;
    this.importing = { done: 0, total: 0, fileName: "" };
    try {
      this.finished(await this.backend.importPhotos(this.id, paths));
      return null;
    } catch (e) {
      this.importing = null;
      return sentence(e);
    }
  }

  private finished(report: CapsuleImport): void {
    this.importing = null;
    this.lastImport = report;
    this.skipped = report.skipped;
    void this.recheckSeal();
  }

  stopImport(): Promise<void> {
    return this.backend.cancelImport();
  }

  async removePhoto(photoId: string): Promise<string | null> {
    try {
      await this.backend.removePhoto(this.id, photoId);
      await this.load();
      await this.recheckSeal();
      return null;
    } catch (e) {
      return sentence(e);
    }
  }

  /** Saves what was typed and asks whether the draft can be sealed; answers whether it can.
   *  A field that cannot be saved keeps its own message (`problem`), not a second one. */
  async checkSeal(): Promise<boolean> {
    await this.flush();
    this.#sealTried = true;
    if (this.save === "invalid" || this.save === "failed") {
      this.sealProblem = null;
      return false;
    }
    await this.recheckSeal();
    return this.sealProblem === null;
  }

  private async recheckSeal(): Promise<void> {
    if (!this.#sealTried) return;
    try {
      this.sealProblem = await this.backend.checkSeal(this.id);
    } catch (e) {
      this.sealProblem = sentence(e);
    }
  }

  /** Saves, then seals; answers the reason when it cannot be sealed. */
  async seal(timeLockOnly = false, reminders: Reminders | null = null): Promise<string | null> {
    await this.flush();
    if (this.save === "invalid" || this.save === "failed") return this.problem;
    try {
      this.show(await this.backend.sealCapsule(this.id, timeLockOnly, reminders), true);
      this.uploads = {};
      return null;
    } catch (e) {
      return sentence(e);
    }
  }

  async remove(): Promise<string | null> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.save = "saved";
    try {
      await this.backend.deleteCapsule(this.id);
      return null;
    } catch (e) {
      return sentence(e);
    }
  }

  handle(e: AppEvent): void {
    switch (e.kind) {
      case "capsuleChanged":
      case "capsuleUnlocked":
        if (e.id === this.id) void this.load();
        break;
      case "importProgress":
        if (e.capsuleId === this.id) {
          this.importing = { done: e.done, total: e.total, fileName: e.fileName };
        }
        break;
      case "importFinished":
        if (e.capsuleId === this.id) {
          this.finished(e.report);
          void this.load();
        }
        break;
      case "uploadProgress":
        if (e.capsuleId === this.id) this.uploads[e.photoId] = { done: e.done, total: e.total };
        break;
    }
  }
}
