import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors";
import { Session } from "../../lib/stores/session.svelte";
import { FakeBackend } from "../../lib/testing/fakeBackend";
import AccountForm from "../AccountForm.svelte";

async function setup() {
  const backend = new FakeBackend();
  const session = new Session(backend);
  await session.load();
  render(AccountForm, {
    props: { mode: "signup" },
    context: new Map<string, unknown>([
      ["backend", backend],
      ["session", session],
    ]),
  });
  const field = (label: string) => screen.getByLabelText(label) as HTMLInputElement;
  return { backend, session, field };
}

const MISMATCH = "The two passwords are not the same.";

describe("the account form", () => {
  it("says the passwords differ once, next to the second, and stops as soon as they match", async () => {
    const { field } = await setup();
    await fireEvent.input(field("Email"), { target: { value: "me@example.com" } });
    await fireEvent.input(field("Password"), { target: { value: "glacier-otter-71" } });
    await fireEvent.input(field("Password again"), { target: { value: "glacier-otter-17" } });
    expect(screen.getAllByText(MISMATCH)).toHaveLength(1);
    expect(field("Password again").getAttribute("aria-invalid")).toBe("true");

    await fireEvent.submit(field("Email").form!);
    expect(screen.getAllByText(MISMATCH)).toHaveLength(1);

    await fireEvent.input(field("Password again"), { target: { value: "glacier-otter-71" } });
    expect(screen.queryByText(MISMATCH)).toBeNull();
    expect(field("Password again").getAttribute("aria-invalid")).toBe("false");
  });

  it("does not call a half-typed second password a mismatch until the form is sent", async () => {
    const { field } = await setup();
    await fireEvent.input(field("Password"), { target: { value: "glacier-otter-71" } });
    await fireEvent.input(field("Password again"), { target: { value: "glac" } });
    expect(screen.queryByText(MISMATCH)).toBeNull();
    await fireEvent.input(field("Email"), { target: { value: "me@example.com" } });
    await fireEvent.submit(field("Email").form!);
    expect(screen.getAllByText(MISMATCH)).toHaveLength(1);
  });

  it("shows the app's answer once, and drops it when the person changes what it was about", async () => {
    const { backend, field } = await setup();
    backend.failNext.set("signUp", new AppError("email_taken", "An account with this email already exists."));
    await fireEvent.input(field("Email"), { target: { value: "me@example.com" } });
    await fireEvent.input(field("Password"), { target: { value: "glacier-otter-71" } });
    await fireEvent.input(field("Password again"), { target: { value: "glacier-otter-71" } });
    await fireEvent.submit(field("Email").form!);
    expect(await screen.findAllByText("An account with this email already exists.")).toHaveLength(1);

    await fireEvent.input(field("Email"), { target: { value: "me2@example.com" } });
    expect(screen.queryByText("An account with this email already exists.")).toBeNull();
  });
});
