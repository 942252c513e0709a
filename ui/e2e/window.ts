// What the end-to-end runs share: a WebDriver session on the app through tauri-driver, and
// the window's inputs, buttons and text as a person uses them.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { remote } from "webdriverio";

export type Browser = WebdriverIO.Browser;

/** A setting the script that runs these tests passes in the environment. */
export function need(name: string, script: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run this through ${script}`);
  return v;
}

/** Starts `app` with `args` through the tauri-driver on `port`. */
export async function connect(port: number, app: string, args: string[]): Promise<Browser> {
  const b = await remote({
    hostname: "127.0.0.1",
    port,
    logLevel: "warn",
    connectionRetryCount: 2,
    capabilities: {
      // @ts-expect-error tauri-driver's own capability
      "tauri:options": { application: app, args },
    },
  });
  await b.setTimeout({ implicit: 0 });
  return b;
}

/** A picture of the app's window as the X server shows it (WebDriver's own screenshot needs
 *  WebKit's composited mode, which the app turns off where there is no GPU, as here). */
export function windowShot(path: string): void {
  const ids = execFileSync("xdotool", ["search", "--onlyvisible", "--name", "^Image Time Capsule$"])
    .toString()
    .trim()
    .split("\n")
    .filter(Boolean);
  assert.ok(ids.length > 0, "the app's window is not on the screen");
  execFileSync("import", ["-window", ids[ids.length - 1], path]);
}

/** Calls one of the app's commands the way the window does. */
export async function invoke<T>(b: Browser, cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  return b.execute(
    (c: string, a: Record<string, unknown>) =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (window as any).__TAURI_INTERNALS__.invoke(c, a),
    cmd,
    args,
  ) as Promise<T>;
}

/** Sets an input's value as typing would, so the app's bindings see it. */
export async function fill(b: Browser, selector: string, value: string): Promise<void> {
  const el = await b.$(selector);
  await el.waitForDisplayed({ timeout: 10_000 });
  await b.execute(
    (e: HTMLInputElement, v: string) => {
      e.focus();
      e.value = v;
      e.dispatchEvent(new Event("input", { bubbles: true }));
      e.dispatchEvent(new Event("change", { bubbles: true }));
    },
    el as unknown as HTMLInputElement,
    value,
  );
}

export async function click(b: Browser, selector: string, timeout = 10_000): Promise<void> {
  const el = await b.$(selector);
  await el.waitForClickable({ timeout });
  await el.click();
}

export async function waitText(b: Browser, text: string, timeout = 15_000): Promise<void> {
  await b.waitUntil(
    async () => (await b.execute(() => document.body.innerText)).includes(text),
    { timeout, timeoutMsg: `“${text}” never showed`, interval: 250 },
  );
}

