// The installed app updating itself, through its window: the .deb of version N is installed
// (with apt, as a person would), a local HTTPS server (a certificate from the run's own CA)
// serves feeds naming version N+1, and the app, started through tauri-driver, finds the
// newer version by itself, refuses a tampered package, a package signed with another key and
// a feed that pairs a newer version number with another version's signed package, then
// installs the good one when asked. scripts/check-deb.sh builds the packages, serves the
// feeds and passes all this in the environment.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { type Browser, click, connect, fill, need as needFrom, waitText, windowShot } from "./window.ts";

const need = (name: string) => needFrom(name, "scripts/check-deb.sh");

const APP = need("ITC_E2E_APP");
const DATA = need("ITC_E2E_DATA");
const FEEDS = need("ITC_E2E_FEEDS");
const VERSION = need("ITC_E2E_VERSION");
const NEXT = need("ITC_E2E_NEXT_VERSION");
const SHOTS = need("ITC_E2E_SHOTS");
const DRIVER_PORT = Number(need("ITC_E2E_DRIVER_PORT"));
const REFUSED = "not signed with this app's update key";

let session: Browser | null = null;
after(async () => {
  await session?.deleteSession().catch(() => {});
});

/** The version of the app dpkg has installed. */
function installed(): string {
  return execFileSync("dpkg-query", ["-W", "-f=${Version}", "image-time-capsule"]).toString().trim();
}

async function useFeed(b: Browser, url: string): Promise<void> {
  await fill(b, "#upd-feed", url);
  await click(b, "button=Save feed");
  await b.waitUntil(async () => (await (await b.$("#upd-feed")).getValue()) === url, { timeout: 5_000 });
}

/** Checks the feed now and asks for the install; answers the sentence the panel shows. */
async function checkAndInstall(b: Browser, announced: string): Promise<void> {
  await click(b, "button*=Check now");
  await waitText(b, `Version ${announced} is available`);
  await click(b, `button*=Install version ${announced}`);
  await waitText(b, `Install version ${announced}?`);
  const dialog = await b.$("dialog[open]");
  await dialog.waitForDisplayed({ timeout: 5_000 });
  const install = await dialog.$("button=Install");
  await install.waitForClickable({ timeout: 5_000 });
  await install.click();
}

async function alertText(b: Browser): Promise<string> {
  const alert = await b.$('section[aria-labelledby="upd-title"] [role="alert"]');
  await alert.waitForDisplayed({ timeout: 60_000 });
  await alert.scrollIntoView({ block: "center" });
  return alert.getText();
}

test("the installed app finds, refuses and installs updates", async () => {
  assert.equal(installed(), VERSION);
  const b = await connect(DRIVER_PORT, APP, ["--data-dir", DATA]);
  session = b;
  try {
    await waitText(b, "How do you want to start?");
    await click(b, "button*=Use on this computer only");
    // Nothing pressed: the app looked by itself a few seconds after it started.
    await click(b, "button*=Settings");
    await waitText(b, `Version ${NEXT} is available`, 60_000);
    await waitText(b, "Faster uploads and a fix for long notes.");
    assert.equal(await (await b.$("#upd-feed")).getValue(), `${FEEDS}/good/latest.json`);
    await (await b.$("#upd-title")).scrollIntoView();
    windowShot(join(SHOTS, "settings-update.png"));

    // The package's bytes changed on the way: its signature no longer verifies.
    await useFeed(b, `${FEEDS}/tampered/latest.json`);
    await checkAndInstall(b, NEXT);
    assert.match(await alertText(b), new RegExp(REFUSED));
    assert.equal(installed(), VERSION, "a tampered package was installed");
    windowShot(join(SHOTS, "settings-update-refused.png"));

    // The right package, signed with a key that is not the app's.
    await useFeed(b, `${FEEDS}/other-key/latest.json`);
    await checkAndInstall(b, NEXT);
    assert.match(await alertText(b), new RegExp(REFUSED));
    assert.equal(installed(), VERSION);

    // A feed that announces a later version but hands out N+1's signed package.
    const announced = need("ITC_E2E_INFLATED_VERSION");
    await useFeed(b, `${FEEDS}/inflated/latest.json`);
    await checkAndInstall(b, announced);
    assert.match(await alertText(b), /signature is for another version/);
    assert.equal(installed(), VERSION);

    // A feed whose server is not there.
    await useFeed(b, "https://127.0.0.1:9/latest.json");
    await click(b, "button*=Check now");
    assert.match(await alertText(b), /could not be reached/);

    await click(b, "button=Use the built-in feed");
    await b.waitUntil(async () => (await (await b.$("#upd-feed")).getValue()) === `${FEEDS}/good/latest.json`, {
      timeout: 5_000,
    });
    await checkAndInstall(b, NEXT);
    await waitText(b, `Version ${NEXT} is installed`, 120_000);
    assert.equal(installed(), NEXT, "dpkg does not have the new version");
    windowShot(join(SHOTS, "settings-update-installed.png"));

    // Restart into it: the app starts again from the new binary with the same data folder.
    const before = running();
    assert.equal(before.length, 1, `one app running before the restart: ${JSON.stringify(before)}`);
    // The window goes away under the click, so the driver reports the page lost; expected.
    await click(b, "button=Restart now").catch(() => {});
    session = null;
    let after: number[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      after = running().filter((p) => p !== before[0] && !exeDeleted(p));
      if (after.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(after.length > 0, "the app did not start again after the restart");
    const started = spawnSync("xdotool", ["search", "--sync", "--onlyvisible", "--name", "^Image Time Capsule$"], {
      timeout: 30_000,
    });
    assert.equal(started.status, 0, "the restarted app shows no window");
    for (const p of after) process.kill(p);
  } catch (e) {
    try {
      windowShot(join(DATA, "..", "update-failure.png"));
      console.error(`the window at the failure: ${join(DATA, "..", "update-failure.png")}`);
    } catch {
      // No window to show.
    }
    throw e;
  }
});

/** The app's processes using this run's data folder. */
function running(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return cmd[0].endsWith("image-time-capsule") && cmd.includes(DATA);
      } catch {
        return false;
      }
    });
}

function exeDeleted(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).endsWith("(deleted)") || !existsSync(`/proc/${pid}`);
  } catch {
    return true;
  }
}
