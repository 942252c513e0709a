import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { FakeBackend } from "../testing/fakeBackend";
import { Session } from "./session.svelte";

describe("the session", () => {
  it("answers a failed log-in as a sentence and keeps no account", async () => {
    const backend = new FakeBackend();
    const s = new Session(backend);
    await s.load();
    const refusal = new AppError("invalid_credentials", "That email and password do not match an account.");
    backend.failNext.set("logIn", refusal);
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "wrong")).toBe(refusal.message);
    expect(s.info?.account).toBeNull();
    expect(s.busy).toBe(false);
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "right")).toBeNull();
    expect(s.info?.account?.email).toBe("me@example.com");
  });

  it("shows the session as ended when the app says so at start, until a log-in", async () => {
    const backend = new FakeBackend();
    backend.info = {
      ...backend.info,
      account: { email: "me@example.com", serverUrl: "http://127.0.0.1:8080" },
      sessionEnded: true,
    };
    const s = new Session(backend);
    await s.load();
    expect(s.signedOut).toBe(true);
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "right")).toBeNull();
    expect(s.signedOut).toBe(false);
  });
});

describe("the session when the server ends it", () => {
  it("offers to log in again after an action is refused for it, and not after other failures", async () => {
    const backend = new FakeBackend();
    backend.info = { ...backend.info, account: { email: "me@example.com", serverUrl: "http://127.0.0.1:8080" } };
    const s = new Session(backend);
    await s.load();
    backend.failNext.set("changePassword", new AppError("invalid_credentials", "Your current password is not correct."));
    expect(await s.changePassword("old", "new-password-1")).toBe("Your current password is not correct.");
    expect(s.signedOut).toBe(false);
    backend.failNext.set("changePassword", new AppError("signed_out", "Your session has ended. Log in again to keep syncing."));
    expect(await s.changePassword("old", "new-password-1")).toBe("Your session has ended. Log in again to keep syncing.");
    expect(s.signedOut).toBe(true);
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "right")).toBeNull();
    expect(s.signedOut).toBe(false);
  });
});
