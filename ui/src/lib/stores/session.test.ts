import { describe, expect, it } from "vitest";
import { FakeBackend } from "../testing/fakeBackend";
import { Session } from "./session.svelte";

describe("the session", () => {
  it("answers a failed log-in as a sentence and keeps no account", async () => {
    const backend = new FakeBackend();
    const s = new Session(backend);
    await s.load();
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "wrong")).toBe(
      "The email or password is not right.",
    );
    expect(s.info?.account).toBeNull();
    expect(s.busy).toBe(false);
    expect(await s.logIn("http://127.0.0.1:8080", "me@example.com", "right")).toBeNull();
    expect(s.info?.account?.email).toBe("me@example.com");
  });

  it("remembers that the server ended the session", async () => {
    const s = new Session(new FakeBackend());
    await s.load();
    s.ended();
    expect(s.signedOut).toBe(true);
  });
});
