// The app's account and settings as the window knows them.

import type { AppInfo, Backend } from "../backend";
import { appError, sentence } from "../errors";

export class Session {
  info = $state<AppInfo | null>(null);
  /** Set when the server ended the session, until the person logs in again. */
  signedOut = $state(false);
  busy = $state(false);

  constructor(private backend: Backend) {}

  async load(): Promise<void> {
    this.set(await this.backend.appInfo());
  }

  private set(info: AppInfo): void {
    this.info = info;
    this.signedOut = info.sessionEnded;
  }

  /** Runs an account action, keeping the answer; answers the error's sentence, if any. */
  private async run(action: () => Promise<AppInfo | void>): Promise<string | null> {
    this.busy = true;
    try {
      const info = await action();
      if (info) this.set(info);
      return null;
    } catch (e) {
      // The server ended the session: the sidebar offers to log in again.
      if (appError(e)?.needsLogIn && this.info?.account) this.signedOut = true;
      return sentence(e);
    } finally {
      this.busy = false;
    }
  }

  offlineOnly = () => this.run(() => this.backend.finishWelcome());
  signUp = (server: string, email: string, password: string) =>
    this.run(() => this.backend.signUp(server, email, password));
  logIn = (server: string, email: string, password: string) =>
    this.run(() => this.backend.logIn(server, email, password));
  logOut = () => this.run(() => this.backend.logOut());
  changePassword = (current: string, next: string) => this.run(() => this.backend.changePassword(current, next));
  deleteAccount = (password: string) => this.run(() => this.backend.deleteAccount(password));
  setNotifications = (on: boolean) => this.run(() => this.backend.setNotifications(on));
  setAutostart = (on: boolean) => this.run(() => this.backend.setAutostart(on));

  /** The server said the session ended. */
  ended(): void {
    this.signedOut = true;
  }
}
