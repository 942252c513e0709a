// Updates of the app itself as the window knows them: where the app looks, what it found,
// how far a download has come. Nothing installs until the person presses Install.

import type { AppEvent, Backend, UpdateOffer, UpdateSettings } from "../backend";
import { sentence } from "../errors";

export class AppUpdates {
  settings = $state<UpdateSettings | null>(null);
  /** The newer version found, until it is installed. */
  offer = $state<UpdateOffer | null>(null);
  /** The last check found nothing newer. */
  upToDate = $state(false);
  checking = $state(false);
  installing = $state(false);
  /** Bytes of the package come in so far, and its size (0 when the server does not say). */
  progress = $state<{ received: number; total: number } | null>(null);
  /** The version installed and waiting for a restart. */
  installed = $state<string | null>(null);
  /** The last failure, as a sentence. */
  error = $state<string | null>(null);

  constructor(private backend: Backend) {}

  /** Downloaded share of the package, 0–100, or null when its size is unknown. */
  get percent(): number | null {
    const p = this.progress;
    if (!p || p.total <= 0) return null;
    return Math.min(100, Math.floor((p.received * 100) / p.total));
  }

  async load(): Promise<void> {
    await this.run(async () => {
      this.settings = await this.backend.updateSettings();
      // Found by a look the app took before the window listened.
      if (!this.installed) this.offer = this.settings.offer;
    });
  }

  handle(e: AppEvent): void {
    if (e.kind === "updateOffer" && !this.installed) {
      this.offer = e.offer;
      this.upToDate = false;
    } else if (e.kind === "updateProgress") {
      this.progress = { received: e.received, total: e.total };
    }
  }

  /** Keeps the person's feed (null: back to the built-in one); answers the error, if any. */
  setFeed = (url: string | null) =>
    this.run(async () => {
      this.settings = await this.backend.setUpdateFeed(url);
      // What another feed offered is not what this one offers.
      this.offer = null;
      this.upToDate = false;
    });

  setAutomatic = (on: boolean) =>
    this.run(async () => {
      this.settings = await this.backend.setUpdateChecks(on);
    });

  check = () =>
    this.run(async () => {
      this.checking = true;
      this.upToDate = false;
      try {
        this.offer = await this.backend.checkForUpdate();
        this.upToDate = this.offer === null;
      } finally {
        this.checking = false;
      }
    });

  install = () =>
    this.run(async () => {
      this.installing = true;
      this.progress = null;
      try {
        this.installed = await this.backend.installUpdate();
        this.offer = null;
      } finally {
        this.installing = false;
      }
    });

  restart = () => this.run(() => this.backend.restartApp());

  private async run(action: () => Promise<void>): Promise<string | null> {
    this.error = null;
    try {
      await action();
      return null;
    } catch (e) {
      this.error = sentence(e);
      return this.error;
    }
  }
}
