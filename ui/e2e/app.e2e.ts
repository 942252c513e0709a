// The real app, driven through its window (tauri-driver in front of WebKitWebDriver, under
// Xvfb) against a real sync-server: sign up, make a capsule with real photos, seal it a
// minute ahead, watch the countdown, see it open (the notification shown and clicked), look
// at the photos and the emails, then log in on a second data folder and find it there.
// scripts/e2e.sh starts everything this needs and passes it in the environment.

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type Browser, click, connect, fill, invoke, need as needFrom, waitText, windowShot } from "./window.ts";

const need = (name: string) => needFrom(name, "scripts/e2e.sh");

const APP = need("ITC_E2E_APP");
const SERVER = need("ITC_E2E_SERVER_URL");
const SERVER_DATA = need("ITC_E2E_SERVER_DATA");
const PHOTOS = need("ITC_E2E_PHOTOS");
const NOTIFY_LOG = need("ITC_E2E_NOTIFY_LOG");
const SHOTS = need("ITC_E2E_SHOTS");
const HOME = need("ITC_E2E_HOME");
const DRIVER_PORT = Number(process.env.ITC_E2E_DRIVER_PORT ?? "4444");
const DARK_DRIVER_PORT = Number(process.env.ITC_E2E_DARK_DRIVER_PORT ?? "0");
const WORK = mkdtempSync(join(tmpdir(), "itc-e2e-"));
const EMAIL = `grandma-${Date.now()}@example.com`;
const PASSWORD = "a long walk by the lake 1987";
const TITLE = "Summer at Grandma’s";

mkdirSync(SHOTS, { recursive: true });
const sessions: Browser[] = [];

async function launch(dataDir: string, port = DRIVER_PORT): Promise<Browser> {
  const b = await connect(port, APP, ["--data-dir", dataDir, "--server", SERVER]);
  sessions.push(b);
  return b;
}

after(async () => {
  for (const b of sessions) await b.deleteSession().catch(() => {});
});

async function shot(b: Browser, name: string): Promise<void> {
  // Let transitions and lazy images settle before the picture.
  await b.pause(500);
  windowShot(join(SHOTS, `${name}.png`));
}

/** Drags `files` from a GTK drag source onto the middle of the app's window with the mouse,
 *  as from a file manager; answers whether the window showed its drop overlay meanwhile. */
async function dragOnto(b: Browser, files: string[]): Promise<boolean> {
  const source = spawn("/usr/bin/python3", [join(import.meta.dirname, "dragsource.py"), ...files]);
  try {
    const [sx, sy] = await new Promise<[number, number]>((resolve, reject) => {
      source.stdout.on("data", (d: Buffer) => {
        const m = /ready (\d+) (\d+)/.exec(d.toString());
        if (m) resolve([Number(m[1]), Number(m[2])]);
      });
      source.on("exit", () => reject(new Error("the drag source ended early")));
    });
    const mouse = (...args: (string | number)[]) => execFileSync("xdotool", args.map(String));
    mouse("mousemove", sx, sy);
    await b.pause(200);
    mouse("mousedown", 1);
    await b.pause(200);
    // Moving in steps is what makes GTK start the drag and the window see it arrive.
    for (let i = 1; i <= 20; i++) {
      mouse("mousemove", sx - i * 25, sy - i * 12);
      await b.pause(40);
    }
    mouse("mousemove", 700, 400);
    await b.pause(300);
    mouse("mousemove", 705, 405);
    await b.pause(300);
    const overlay = await b.execute(() => document.querySelector(".overlay") !== null);
    mouse("mouseup", 1);
    // The window asks the source for the files after the button is up: the source must
    // live until the drop is done (the overlay goes), or the drop arrives empty.
    await b
      .waitUntil(async () => b.execute(() => document.querySelector(".overlay") === null), { timeout: 10_000 })
      .catch(() => undefined);
    return overlay;
  } finally {
    source.kill();
  }
}

/** How many of the images under `selector` have loaded. */
async function loadedImages(b: Browser, selector: string): Promise<number> {
  return b.execute(
    (s: string) =>
      Array.from(document.querySelectorAll<HTMLImageElement>(s)).filter((i) => i.complete && i.naturalWidth > 0)
        .length,
    selector,
  );
}

function photoFiles(): string[] {
  return readdirSync(PHOTOS)
    .filter((f) => /^\d\d-.*\.(jpg|heic)$/.test(f))
    .sort()
    .map((f) => join(PHOTOS, f));
}

function notifications(): { id: number; summary: string; body: string; app_name: string; actions: string[] }[] {
  if (!existsSync(NOTIFY_LOG)) return [];
  return readFileSync(NOTIFY_LOG, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

interface Summary {
  id: string;
  title: string;
  state: string;
}

async function capsuleId(b: Browser, title: string): Promise<string> {
  const list = await invoke<Summary[]>(b, "list_capsules");
  const c = list.find((x) => x.title === title);
  assert.ok(c, `no capsule titled ${title}`);
  return c.id;
}

async function newCapsule(b: Browser, title: string): Promise<string> {
  await click(b, "button*=New capsule");
  await b.$("#title").waitForDisplayed({ timeout: 10_000 });
  await fill(b, "#title", title);
  await waitText(b, "Saved");
  return capsuleId(b, title);
}

async function addRecipient(b: Browser, address: string): Promise<void> {
  const input = await b.$('input[placeholder*="name@example.com"], input[placeholder="Add another…"]');
  await input.click();
  await input.addValue(address);
  await b.keys("Enter");
  await b.$(`button[aria-label="Remove ${address}"]`).waitForExist({ timeout: 5_000 });
}

/** A local date and time `lead` seconds or more ahead, at a whole minute. */
async function minuteAhead(b: Browser, leadSeconds: number): Promise<{ date: string; time: string; iso: string }> {
  return b.execute((lead: number) => {
    const d = new Date(Date.now() + lead * 1000);
    if (d.getSeconds() !== 0 || d.getMilliseconds() !== 0) {
      d.setSeconds(0, 0);
      d.setMinutes(d.getMinutes() + 1);
    }
    const p = (n: number) => String(n).padStart(2, "0");
    return {
      date: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`,
      time: `${p(d.getHours())}:${p(d.getMinutes())}`,
      iso: d.toISOString(),
    };
  }, leadSeconds);
}

test("a capsule made on one computer opens on its date and is there on another", { timeout: 15 * 60_000 }, async (t) => {
  const deviceA = join(WORK, "device-a");
  const deviceB = join(WORK, "device-b");
  let a = await launch(deviceA);
  let summer = "";
  let openIso = "";
  // Each step builds on the ones before: after a failure the rest are skipped, and the
  // window at the moment of failure is kept as a picture.
  let broken: string | false = false;
  const step = (name: string, body: () => Promise<void>) =>
    t.test(name, { skip: broken }, async () => {
      try {
        await body();
      } catch (e) {
        broken = "an earlier step failed";
        try {
          windowShot(join(WORK, "failure.png"));
        } catch {
          // No window to show.
        }
        console.error(`the window at the failure: ${join(WORK, "failure.png")}`);
        throw e;
      }
    });

  await step("the welcome offers offline use or an account, and sign-up goes to the library", async () => {
    await waitText(a, "How do you want to start?");
    await (await a.$("#acct-server")).waitForDisplayed();
    assert.equal(await (await a.$("#acct-server")).getValue(), SERVER, "the local server is prefilled");
    await shot(a, "welcome");
    await click(a, "button=Create account");
    await fill(a, "#acct-email", EMAIL);
    await fill(a, "#acct-password", PASSWORD);
    await fill(a, "#acct-confirm", PASSWORD);
    await click(a, "button*=Create account and sync");
    await waitText(a, "Your capsules");
    await waitText(a, "Make your first time capsule");
    await waitText(a, `Syncing with ${new URL(SERVER).host}`);
    // A second launch hands over to the running app and ends; the window stays.
    const second = spawnSync(APP, ["--data-dir", deviceA, "--server", SERVER], { timeout: 20_000 });
    assert.equal(second.status, 0, `the second launch did not end by itself: ${second.stderr}`);
    await waitText(a, "Your capsules");
  });

  await step("a draft gets its fields, photos by a real drop and through the drop's command, and per-file errors", async () => {
    summer = await newCapsule(a, TITLE);
    await fill(a, "#note", "For everyone who was there.\n\nThe lake, the cherry tree, and far too much cake.");
    await addRecipient(a, "ann@example.com");
    // Validation as typed: a bad address is named before it is added.
    const input = await a.$('input[placeholder="Add another…"]');
    await input.click();
    await input.addValue("not-an-address");
    await waitText(a, "“not-an-address” is not a valid email address.");
    await a.execute(() => {
      const i = document.querySelector<HTMLInputElement>('input[placeholder="Add another…"]');
      if (i) {
        i.value = "";
        i.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
    const when = await minuteAhead(a, 70);
    openIso = when.iso;
    await fill(a, 'input[aria-label="Open date"]', when.date);
    await fill(a, 'input[aria-label="Open time"]', when.time);
    await waitText(a, "Saved");

    const files = photoFiles();
    const bad = [join(PHOTOS, "broken.jpg"), join(PHOTOS, "notes.txt")];
    // A real drop of two photos and a text file, through the window's own drop handler.
    assert.equal(await dragOnto(a, [files[0], files[1], bad[1]]), true, "the drop overlay showed");
    await a.waitUntil(async () => (await loadedImages(a, 'ul[aria-label="Photos"] img')) === 2, {
      timeout: 30_000,
      timeoutMsg: "the dropped photos did not show",
    });
    await waitText(a, "1 file was not added");
    // The rest through the command the drop handler calls, as a drop of them would.
    const report = await invoke<{ added: number; alreadyIn: number; skipped: { fileName: string }[] }>(
      a,
      "import_photos",
      { capsuleId: summer, paths: [...files, ...bad] },
    );
    assert.equal(report.added, files.length - 2);
    assert.equal(report.alreadyIn, 2, "the dropped ones are not added twice");
    assert.deepEqual(report.skipped.map((s) => s.fileName).sort(), ["broken.jpg", "notes.txt"]);
    await a.waitUntil(async () => (await loadedImages(a, 'ul[aria-label="Photos"] img')) === files.length, {
      timeout: 30_000,
      timeoutMsg: "thumbnails did not show",
    });
    const detail = await invoke<{ note: string; recipients: string[]; openAt: string; photos: unknown[] }>(
      a,
      "get_capsule",
      { id: summer },
    );
    assert.equal(detail.recipients.join(), "ann@example.com");
    assert.equal(new Date(detail.openAt).toISOString(), openIso);
    assert.equal(detail.photos.length, files.length);
  });

  await step("files left out are named beside the grid, and a photo opens larger", async () => {
    await a.waitUntil(async () => (await a.$$(".skipped li").length) === 2, {
      timeout: 10_000,
      timeoutMsg: "the skipped files are not shown",
    });
    await waitText(a, "2 files were not added");
    await waitText(a, "broken.jpg");
    await shot(a, "editor");
    await click(a, 'button[aria-label^="Open "]');
    await a.$("dialog.viewer").waitForDisplayed({ timeout: 5_000 });
    await a.waitUntil(async () => (await loadedImages(a, "dialog.viewer img.full")) === 1, { timeout: 15_000 });
    await shot(a, "preview");
    await a.keys("Escape");
    await a.$("dialog.viewer").waitForDisplayed({ reverse: true, timeout: 5_000 });
  });

  await step("sealing says what it means, needs a confirm, then uploads until synced", async () => {
    await click(a, "button*=Seal…");
    await waitText(a, "I understand that I cannot open or change this capsule before its date.");
    await waitText(a, "Only time can open it");
    const sealButton = await a.$("button*=Seal the capsule");
    assert.equal(await sealButton.isEnabled(), false, "needs the explicit confirm");
    await shot(a, "seal-dialog");
    await click(a, 'dialog label.confirm input[type="checkbox"]');
    await click(a, "button*=Seal the capsule");
    await a.$("#sealed-title").waitForDisplayed({ timeout: 10_000 });
    await a.$('[role="timer"]').waitForDisplayed({ timeout: 5_000 });
    await waitText(a, "Safely on the server.", 60_000);
    // The server answered how the files are locked: the drand round, with the safety key.
    await waitText(a, "time-locked to drand round", 10_000);
    await waitText(a, "safety key opens it, never before");
    const sealed = await invoke<{ state: string; photos: unknown[]; note: string; photoCount: number }>(
      a,
      "get_capsule",
      { id: summer },
    );
    assert.equal(sealed.state, "sealed");
    assert.equal(sealed.photos.length, 0, "nothing of a sealed capsule is shown");
    assert.equal(sealed.note, "");
    assert.equal(sealed.photoCount, photoFiles().length);
    await shot(a, "sealed");
  });

  await step("the library shows cards with covers, a live countdown, filters and sync words", async () => {
    // Two more capsules, so the library looks like a person's.
    await click(a, "button*=Library");
    const letters = await newCapsule(a, "Birthday letters");
    await fill(a, "#note", "Notes for the 40th.");
    await invoke(a, "import_photos", { capsuleId: letters, paths: photoFiles().slice(3, 5) });
    await waitText(a, "2 photos");
    await click(a, "button*=Library");
    const mia = await newCapsule(a, "For Mia, at 18");
    await fill(a, "#note", "Dear Mia, open this on your eighteenth birthday.");
    await fill(a, 'input[aria-label="Open date"]', "2040-06-14");
    await waitText(a, "Saved");
    await invoke(a, "import_photos", { capsuleId: mia, paths: photoFiles().slice(0, 1) });
    await invoke(a, "seal_capsule", { id: mia, timeLockOnly: true });
    await click(a, "button*=Library");
    await a.$('button[aria-label^="For Mia"]').waitForDisplayed({ timeout: 10_000 });
    await a.waitUntil(async () => (await loadedImages(a, "button.capsule img")) >= 1, { timeout: 15_000 });
    const before = await (await a.$('button[aria-label^="Summer"] [role="timer"]')).getText();
    await a.pause(1500);
    const later = await (await a.$('button[aria-label^="Summer"] [role="timer"]')).getText();
    assert.notEqual(before, later, "the countdown is live");
    await shot(a, "library");
    await click(a, 'button[role="radio"]*=Sealed');
    await a.waitUntil(async () => (await a.$$("button.capsule").length) === 2, { timeout: 5_000 });
    await click(a, 'button[role="radio"]*=All');
  });

  await step("settings: notifications, start at login, data folder", async () => {
    await click(a, "button*=Settings");
    await waitText(a, "Data folder");
    await waitText(a, deviceA);
    const autostart = join(HOME, ".config", "autostart", "Image Time Capsule.desktop");
    assert.equal(existsSync(autostart), false);
    await click(a, "label*=Start at login");
    await a.waitUntil(() => existsSync(autostart), { timeout: 5_000, timeoutMsg: "no autostart entry" });
    assert.match(readFileSync(autostart, "utf8"), /--hidden/);
    await shot(a, "settings");
    await click(a, "label*=Start at login");
    await a.waitUntil(() => !existsSync(autostart), { timeout: 5_000 });
    await click(a, "button*=Library");
  });

  await step("on the open date a notification shows, and clicking it opens the capsule", async () => {
    const left = Date.parse(openIso) - Date.now();
    const seen = await a.waitUntil(
      () => notifications().find((n) => n.summary === `“${TITLE}” has opened`) ?? false,
      { timeout: left + 60_000, interval: 500, timeoutMsg: "no notification" },
    );
    assert.ok(Date.now() >= Date.parse(openIso) - 1000, "not before the date");
    assert.equal(seen.app_name, "Image Time Capsule");
    assert.ok(seen.actions.includes("default"), "clickable");
    const recorded = await invoke<{ notifiedAt: string | null }>(a, "get_capsule", { id: summer });
    assert.ok(recorded.notifiedAt, "the notification is recorded");
    execFileSync("dbus-send", [
      "--session",
      "--dest=org.freedesktop.Notifications",
      "--type=method_call",
      "/org/freedesktop/Notifications",
      "app.itc.Test.Click",
      `uint32:${seen.id}`,
    ]);
    await (await a.$("button*=Open it")).waitForDisplayed({ timeout: 60_000 });
    await waitText(a, `“${TITLE}” is open`);
    await shot(a, "reveal");
  });

  await step("the opened capsule shows its note, photos, viewer and who got the email", async () => {
    await click(a, "button*=Open it");
    await waitText(a, "The lake, the cherry tree");
    const n = photoFiles().length;
    await a.waitUntil(async () => (await loadedImages(a, 'ul[aria-label="Photos"] img')) === n, {
      timeout: 60_000,
      timeoutMsg: "the opened photos did not show",
    });
    await a.waitUntil(async () => (await a.$$("span.st.sent").length) === 2, {
      timeout: 30_000,
      timeoutMsg: "deliveries not reported as sent",
    });
    await waitText(a, EMAIL);
    await waitText(a, "ann@example.com");
    await shot(a, "opened");

    await click(a, 'ul[aria-label="Photos"] button');
    const viewer = await a.$("dialog.viewer");
    await viewer.waitForDisplayed({ timeout: 5_000 });
    await a.waitUntil(async () => (await loadedImages(a, "dialog.viewer img.full.ready")) === 1, {
      timeout: 30_000,
      timeoutMsg: "the original did not load",
    });
    assert.equal(await viewer.getAttribute("aria-label"), `Photo 1 of ${n}`);
    await shot(a, "viewer");
    await a.keys("ArrowRight");
    await a.waitUntil(async () => (await viewer.getAttribute("aria-label")) === `Photo 2 of ${n}`, { timeout: 5_000 });
    await a.keys("ArrowLeft");
    await a.keys("ArrowLeft");
    await a.waitUntil(async () => (await viewer.getAttribute("aria-label")) === `Photo ${n} of ${n}`, { timeout: 5_000 });
    await a.keys("Escape");
    await viewer.waitForDisplayed({ reverse: true, timeout: 5_000 });

    // The iPhone's HEIC, which WebKit cannot draw, shows as its JPEG preview, upright
    // (portrait: the file turns it a quarter with `irot`).
    const opened = await invoke<{ photos: { contentType: string }[] }>(a, "get_capsule", { id: summer });
    const k = opened.photos.findIndex((p) => p.contentType === "image/heic");
    assert.ok(k >= 0, "the HEIC is in the capsule");
    await (await a.$$('ul[aria-label="Photos"] button'))[k].click();
    await viewer.waitForDisplayed({ timeout: 5_000 });
    await a.waitUntil(async () => (await viewer.getAttribute("aria-label")) === `Photo ${k + 1} of ${n}`, {
      timeout: 5_000,
    });
    await a.waitUntil(async () => (await loadedImages(a, "dialog.viewer img.full.ready")) === 1, {
      timeout: 30_000,
      timeoutMsg: "the HEIC did not show",
    });
    const shape = await a.execute(() => {
      const img = document.querySelector<HTMLImageElement>("dialog.viewer img.full.ready");
      return img ? [img.naturalWidth, img.naturalHeight] : [0, 0];
    });
    assert.ok(shape[1] > shape[0], `the HEIC is upright (${shape})`);
    await shot(a, "viewer-heic");
    await a.keys("Escape");
    await viewer.waitForDisplayed({ reverse: true, timeout: 5_000 });

    const out = join(WORK, "export");
    mkdirSync(out);
    const exported = await invoke<{ written: string[]; failed: unknown[]; gallery: string | null }>(
      a,
      "export_originals",
      { capsuleId: summer, folder: out },
    );
    assert.equal(exported.failed.length, 0);
    // The originals, and index.html to look through them in a browser.
    assert.deepEqual(
      readdirSync(out).sort(),
      [...photoFiles().map((f) => f.split("/").pop()), "index.html"].sort(),
    );
    assert.equal(exported.gallery, join(out, "index.html"));
    const page = readFileSync(join(out, "index.html"), "utf8");
    assert.match(page, /<h1>Summer/);
    assert.doesNotMatch(page, /<script/);
  });

  await step("every recipient's email arrived with the photos inline and a link", async () => {
    const outbox = join(SERVER_DATA, "outbox");
    const mails = readdirSync(outbox).filter((f) => f.endsWith(".eml"));
    const bodies = mails.map((m) => readFileSync(join(outbox, m), "utf8"));
    const ours = bodies.filter((b) => b.includes("Summer at Grandma"));
    assert.equal(ours.length, 2, "one email to the owner and one to the recipient");
    for (const b of ours) {
      // The HTML part is quoted-printable: its soft line breaks can fall inside a reference.
      const html = b.replace(/=\r?\n/g, "");
      const inline = new Set(html.match(/cid:photo\d+/g) ?? []);
      assert.equal(inline.size, photoFiles().length, "every photo inline, the iPhone's HEIC too");
      const parts = new Set(b.match(/^Content-ID: *<photo\d+>/gim) ?? []);
      assert.equal(parts.size, photoFiles().length, "an image part for each");
      assert.match(b, /\/c\/[A-Za-z0-9_-]{20,}/, "a link to the recipient page");
    }
    // The recipient page offers the HEIC as what it is, and shows it as a JPEG.
    const link = ours[0].match(/https?:\/\/[^\s"<>]+\/c\/[A-Za-z0-9_-]{20,}/)?.[0];
    assert.ok(link, "an absolute link");
    const page = await (await fetch(link)).text();
    assert.match(page, /Download original \(HEIC\)/);
    const preview = page.match(/href="(\/c\/[^"]+\/preview)" title="View full size"/)?.[1];
    assert.ok(preview, "the HEIC opens as its JPEG preview");
    const res = await fetch(new URL(preview, link));
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    assert.ok(ours.some((b) => /^To: .*ann@example\.com/im.test(b)));
    assert.ok(ours.some((b) => new RegExp(`^To: .*${EMAIL.replace(/[.+]/g, "\\$&")}`, "im").test(b)));
  });

  await step("log out, then log in on a second data folder and find the same capsules", async () => {
    await click(a, "button*=Settings");
    await click(a, "button=Log out");
    await waitText(a, "This computer only");
    await a.deleteSession();
    sessions.splice(sessions.indexOf(a), 1);

    const b = await launch(deviceB);
    a = b;
    await waitText(b, "How do you want to start?");
    await fill(b, "#acct-email", EMAIL);
    await fill(b, "#acct-password", PASSWORD);
    await click(b, "button*=Log in and sync");
    await waitText(b, "Your capsules");
    await b.$(`button[aria-label^="Summer"]`).waitForDisplayed({ timeout: 30_000 });
    await b.$('button[aria-label^="For Mia"]').waitForDisplayed({ timeout: 30_000 });
    await b.$('button[aria-label^="Birthday letters"]').waitForDisplayed({ timeout: 30_000 });
    await b.waitUntil(async () => (await loadedImages(b, "button.capsule img")) >= 2, { timeout: 30_000 });
    await shot(b, "second-device");
    await click(b, 'button[aria-label^="Summer"]');
    await click(b, "button*=Open it", 15_000);
    await b.waitUntil(async () => (await loadedImages(b, 'ul[aria-label="Photos"] img')) === photoFiles().length, {
      timeout: 60_000,
      timeoutMsg: "the second device did not show the photos",
    });
  });
  await step("the app follows a dark desktop theme", async () => {
    if (!DARK_DRIVER_PORT) return;
    await a.deleteSession();
    sessions.splice(sessions.indexOf(a), 1);
    const dark = await launch(deviceB, DARK_DRIVER_PORT);
    a = dark;
    await dark.$('button[aria-label^="Summer"]').waitForDisplayed({ timeout: 30_000 });
    assert.equal(
      await dark.execute(() => matchMedia("(prefers-color-scheme: dark)").matches),
      true,
      "the window sees the dark theme",
    );
    await dark.waitUntil(async () => (await loadedImages(dark, "button.capsule img")) >= 2, { timeout: 30_000 });
    await shot(dark, "library-dark");
    await click(dark, 'button[aria-label^="Summer"]');
    await dark.waitUntil(async () => (await loadedImages(dark, 'ul[aria-label="Photos"] img')) === photoFiles().length, {
      timeout: 30_000,
    });
    await shot(dark, "opened-dark");
  });
});

test("a capsule sealed on this computer only waits for drand's beacon, not the clock, then opens", { timeout: 10 * 60_000 }, async () => {
  const HOLD = need("ITC_E2E_RELAY_HOLD");
  const LETTER = "Letter to myself";
  // One app at a time per desktop session (a second launch hands over to the first).
  for (const s of sessions.splice(0)) await s.deleteSession().catch(() => {});
  const c = await launch(join(WORK, "device-c"));
  await waitText(c, "How do you want to start?");
  await click(c, "button*=Use on this computer only");
  await waitText(c, "Your capsules");
  const id = await newCapsule(c, LETTER);
  await fill(c, "#note", "Did you keep running? Did you call your sister?");
  const when = await minuteAhead(c, 70);
  await fill(c, 'input[aria-label="Open date"]', when.date);
  await fill(c, 'input[aria-label="Open time"]', when.time);
  await waitText(c, "Saved");
  await invoke(c, "import_photos", { capsuleId: id, paths: [photoFiles()[2]] });
  await c.waitUntil(async () => (await loadedImages(c, 'ul[aria-label="Photos"] img')) === 1, { timeout: 30_000 });

  await click(c, "button*=Seal…");
  await waitText(c, "this computer encrypts it now and time-locks it to drand's");
  assert.equal(await c.$('dialog input[type="radio"]').isExisting(), false, "no key to choose without a server");
  await click(c, 'dialog label.confirm input[type="checkbox"]');
  await click(c, "button*=Seal the capsule");
  await c.$("#sealed-title").waitForDisplayed({ timeout: 20_000 });
  await waitText(c, "Encrypted on this computer and time-locked to drand round");
  await waitText(c, "Sealed on this computer.");
  const sealed = await invoke<{ state: string; note: string; sealedHere: boolean; lock: { escrow: boolean } }>(
    c,
    "get_capsule",
    { id },
  );
  assert.equal(sealed.state, "sealed");
  assert.equal(sealed.note, "");
  assert.equal(sealed.sealedHere, true);
  assert.equal(sealed.lock.escrow, false);
  await shot(c, "sealed-here");

  // Its sealed copy, saved elsewhere, holds what opens it without the app.
  const out = join(WORK, "sealed-copy");
  mkdirSync(out, { recursive: true });
  const saved = await invoke<{ written: string[] }>(c, "export_originals", { capsuleId: id, folder: out });
  const names = saved.written.map((p) => p.split("/").pop()).sort();
  for (const f of ["README.txt", "manifest.json", "note.age", "index.age", "recipients.age"]) {
    assert.ok(names.includes(f), `${f} in the sealed copy: ${names.join(", ")}`);
  }
  const refused = await c.execute(
    (folder: string) =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (window as any).__TAURI_INTERNALS__.invoke("import_sealed", { folder }).then(
        () => "taken",
        (e: { message?: string }) => e.message ?? String(e),
      ),
    saved.written[0].slice(0, saved.written[0].lastIndexOf("/")),
  );
  assert.match(String(refused), /already in the library/);

  // The drand network stalls before the date: the clock passes it, and the capsule waits.
  writeFileSync(HOLD, "");
  try {
    await c.waitUntil(async () => Date.now() > Date.parse(when.iso) + 1_000, {
      timeout: Date.parse(when.iso) - Date.now() + 60_000,
      interval: 1_000,
    });
    await waitText(c, "is not published yet", 30_000);
    await waitText(c, "Opening — waiting for drand's beacon");
    const waiting = await invoke<{ state: string; note: string }>(c, "get_capsule", { id });
    assert.equal(waiting.state, "sealed", "the clock alone opens nothing");
    assert.equal(waiting.note, "");
    assert.equal(
      notifications().some((n) => n.summary === `“${LETTER}” has opened`),
      false,
      "not announced while sealed",
    );
    await shot(c, "waiting-for-beacon");
  } finally {
    rmSync(HOLD, { force: true });
  }

  // The beacon comes: it opens here, is announced once, and shows its note and photo.
  await c.waitUntil(() => notifications().some((n) => n.summary === `“${LETTER}” has opened`), {
    timeout: 60_000,
    interval: 500,
    timeoutMsg: "no notification once the beacon came",
  });
  const opened = await invoke<{ state: string; note: string; photos: unknown[] }>(c, "get_capsule", { id });
  assert.equal(opened.state, "opened");
  assert.equal(opened.note, "Did you keep running? Did you call your sister?");
  assert.equal(opened.photos.length, 1);
  await click(c, "button*=Open it", 30_000);
  await waitText(c, "Did you keep running?");
  await c.deleteSession();
  sessions.splice(sessions.indexOf(c), 1);
});
