import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { RecipientDelivery } from "../../lib/backend";
import { AppError } from "../../lib/errors";
import { FakeBackend } from "../../lib/testing/fakeBackend";
import Deliveries from "../Deliveries.svelte";

const ID = "0193a0f0-0000-7000-8000-000000000001";
const BOUNCED: RecipientDelivery = {
  recipient: "ann@no-such-mailbox.example",
  status: "bounced",
  attempts: 1,
  last_error: "The recipient's mail server refused this address: 550 5.1.1 User unknown",
};
const SENT: RecipientDelivery = { recipient: "bob@example.com", status: "sent", attempts: 1, sent_at: "2031-06-01T09:00:00Z" };

function setup(online = true) {
  const backend = new FakeBackend();
  backend.deliveries.set(ID, [BOUNCED, SENT]);
  render(Deliveries, {
    props: { capsuleId: ID, deliveries: [BOUNCED, SENT], online },
    context: new Map<string, unknown>([["backend", backend]]),
  });
  return backend;
}

describe("who got it", () => {
  it("shows a bounce with the server's words and offers to send only that one again", async () => {
    setup();
    expect(screen.getByText("Bounced")).toBeTruthy();
    expect(screen.getByText(/550 5.1.1 User unknown/)).toBeTruthy();
    expect(screen.getByText("Sent")).toBeTruthy();
    expect(screen.getAllByRole("button", { name: /Send again/ })).toHaveLength(1);
  });

  it("sends it to a corrected address and shows the new one queued", async () => {
    const backend = setup();
    await fireEvent.click(screen.getByRole("button", { name: /Send again/ }));
    const field = screen.getByLabelText("Send to") as HTMLInputElement;
    expect(field.value).toBe(BOUNCED.recipient);
    await fireEvent.input(field, { target: { value: "ann@example.com" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send again" }));
    expect(await screen.findByText("Waiting to send")).toBeTruthy();
    expect(screen.getByText("ann@example.com")).toBeTruthy();
    expect(screen.queryByText(BOUNCED.recipient)).toBeNull();
    expect(backend.calls.find((c) => c.name === "resendDelivery")?.args).toEqual([ID, BOUNCED.recipient, "ann@example.com"]);
  });

  it("sends it to the same address when the address is left as it was", async () => {
    const backend = setup();
    await fireEvent.click(screen.getByRole("button", { name: /Send again/ }));
    await fireEvent.click(screen.getByRole("button", { name: "Send again" }));
    expect(await screen.findByText("Waiting to send")).toBeTruthy();
    expect(backend.calls.find((c) => c.name === "resendDelivery")?.args).toEqual([ID, BOUNCED.recipient, null]);
  });

  it("keeps the form and says why when the server refuses", async () => {
    const backend = setup();
    backend.failNext.set("resendDelivery", new AppError("recipient_exists", "bob@example.com already gets this capsule."));
    await fireEvent.click(screen.getByRole("button", { name: /Send again/ }));
    await fireEvent.input(screen.getByLabelText("Send to"), { target: { value: "bob@example.com" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send again" }));
    expect((await screen.findByRole("alert")).textContent).toContain("already gets this capsule");
    expect(screen.getByText("Bounced")).toBeTruthy();
  });

  it("does not offer it without a server", () => {
    setup(false);
    expect((screen.getByRole("button", { name: /Send again/ }) as HTMLButtonElement).disabled).toBe(true);
  });
});
