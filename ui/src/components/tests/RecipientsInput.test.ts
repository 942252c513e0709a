import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { FakeBackend } from "../../lib/testing/fakeBackend";
import rules from "../../lib/testing/rules.gen.json";
import RecipientsInput from "../RecipientsInput.svelte";

function setup(recipients: string[] = []) {
  const backend = new FakeBackend();
  const onChange = vi.fn();
  const r = render(RecipientsInput, {
    props: { recipients, onChange, ownerEmail: "me@example.com" },
    context: new Map([["backend", backend]]),
  });
  const input = screen.getByLabelText("Recipients") as HTMLInputElement;
  return { ...r, backend, onChange, input };
}

describe("recipients", () => {
  it("names a bad address as it is typed", async () => {
    vi.useFakeTimers();
    const { input } = setup();
    await fireEvent.input(input, { target: { value: "ann@" } });
    await vi.advanceTimersByTimeAsync(350);
    const refusal = rules.email["ann@"].error;
    expect(await screen.findByText(refusal)).toBeTruthy();
    expect(input.getAttribute("aria-invalid")).toBe("true");
    await fireEvent.input(input, { target: { value: "ann@example.com" } });
    await vi.advanceTimersByTimeAsync(350);
    expect(screen.queryByText(refusal)).toBeNull();
    vi.useRealTimers();
  });

  it("adds addresses on Enter, lower-cased and once, and says the owner gets it too", async () => {
    const { input, onChange } = setup(["bob@example.com"]);
    expect(screen.getByText("You (me@example.com) always get it too.")).toBeTruthy();
    await fireEvent.input(input, { target: { value: "Ann@Example.com, bob@example.com" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await vi.waitFor(() => expect(screen.getByLabelText("Remove ann@example.com")).toBeTruthy());
    expect(screen.getAllByLabelText(/^Remove /)).toHaveLength(2);
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(input.value).toBe("");
  });

  it("takes the last address off with Backspace in an empty field", async () => {
    const { input, onChange } = setup(["a@example.com", "b@example.com"]);
    await fireEvent.keyDown(input, { key: "Backspace" });
    expect(screen.queryByLabelText("Remove b@example.com")).toBeNull();
    expect(screen.getByLabelText("Remove a@example.com")).toBeTruthy();
    expect(onChange).toHaveBeenCalledOnce();
  });
});
