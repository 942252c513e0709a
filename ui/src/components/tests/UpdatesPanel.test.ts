import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors";
import { AppUpdates } from "../../lib/stores/updates.svelte";
import { FakeBackend } from "../../lib/testing/fakeBackend";
import UpdatesPanel from "../UpdatesPanel.svelte";

async function setup(shape: (b: FakeBackend) => void = () => {}) {
  const backend = new FakeBackend();
  shape(backend);
  const updates = new AppUpdates(backend);
  await updates.load();
  await backend.onEvent((e) => updates.handle(e));
  render(UpdatesPanel, { context: new Map<string, unknown>([["updates", updates]]) });
  return { backend, updates };
}

const NEWER = { version: "0.2.0", currentVersion: "0.1.0", date: "2026-11-30T10:00:00Z", notes: "Faster uploads." };

describe("the updates panel", () => {
  it("says why a copy that cannot update itself does not, and offers nothing to press", async () => {
    await setup((b) => {
      b.updates = { ...b.updates, unavailable: "This build carries no update key, so it never installs updates itself." };
    });
    expect(screen.getByText(/carries no update key/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Check now/ })).toBeNull();
    expect(screen.queryByLabelText("Update feed")).toBeNull();
  });

  it("installs only after the person confirms, then offers the restart", async () => {
    const { backend } = await setup((b) => (b.newer = NEWER));
    await fireEvent.click(screen.getByRole("button", { name: /Check now/ }));
    expect(await screen.findByText("Version 0.2.0 is available")).toBeTruthy();
    expect(screen.getByText("Faster uploads.")).toBeTruthy();

    await fireEvent.click(screen.getByRole("button", { name: /Install version 0.2.0/ }));
    expect(backend.count("installUpdate")).toBe(0);
    await fireEvent.click(screen.getByRole("button", { name: "Not now" }));
    expect(backend.count("installUpdate")).toBe(0);

    await fireEvent.click(screen.getByRole("button", { name: /Install version 0.2.0/ }));
    await fireEvent.click(screen.getByRole("button", { name: "Install" }));
    expect(await screen.findByText(/Version 0.2.0 is installed/)).toBeTruthy();
    expect(backend.count("installUpdate")).toBe(1);
    await fireEvent.click(screen.getByRole("button", { name: "Restart now" }));
    expect(backend.count("restartApp")).toBe(1);
  });

  it("shows a refused package's reason and keeps the offer", async () => {
    const { backend } = await setup((b) => (b.newer = NEWER));
    await fireEvent.click(screen.getByRole("button", { name: /Check now/ }));
    const refusal = new AppError("corrupt", "The downloaded update is not signed with this app's update key, so it was not installed.");
    backend.failNext.set("installUpdate", refusal);
    await fireEvent.click(await screen.findByRole("button", { name: /Install version 0.2.0/ }));
    await fireEvent.click(screen.getByRole("button", { name: "Install" }));
    expect((await screen.findByRole("alert")).textContent).toContain("not signed with this app's update key");
    expect(screen.getByRole("button", { name: /Install version 0.2.0/ })).toBeTruthy();
    expect(screen.queryByText(/Version 0.2.0 is installed/)).toBeNull();
  });

  it("says so when this is the newest version", async () => {
    await setup();
    await fireEvent.click(screen.getByRole("button", { name: /Check now/ }));
    expect(await screen.findByText(/You have the newest version, 0.1.0/)).toBeTruthy();
  });

  it("keeps a typed feed, refuses a bad one with the app's sentence, and goes back to the built-in one", async () => {
    const { backend } = await setup();
    const field = screen.getByLabelText("Update feed") as HTMLInputElement;
    expect(field.value).toBe("https://updates.example.org/itc/latest.json");

    backend.failNext.set("setUpdateFeed", new AppError("invalid", "Update feeds must use https://, so nobody on the way can change what they say."));
    await fireEvent.input(field, { target: { value: "http://mirror.example.net/latest.json" } });
    await fireEvent.submit(field.form!);
    expect((await screen.findByRole("alert")).textContent).toContain("must use https://");
    expect(field.value).toBe("http://mirror.example.net/latest.json");

    await fireEvent.input(field, { target: { value: "https://mirror.example.net/latest.json" } });
    await fireEvent.submit(field.form!);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(backend.updates.customFeed).toBe(true);
    await fireEvent.click(await screen.findByRole("button", { name: "Use the built-in feed" }));
    expect(backend.calls.at(-1)).toEqual({ name: "setUpdateFeed", args: [null] });
    expect(field.value).toBe("https://updates.example.org/itc/latest.json");
  });

  it("turns automatic checks off and on", async () => {
    const { backend } = await setup();
    const sw = screen.getByRole("switch") as HTMLInputElement;
    expect(sw.checked).toBe(true);
    await fireEvent.click(sw);
    expect(backend.updates.automatic).toBe(false);
  });
});
