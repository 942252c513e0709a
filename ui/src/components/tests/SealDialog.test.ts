import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import SealDialog from "../SealDialog.svelte";

const base = {
  title: "Lake house",
  openAt: new Date(Date.UTC(2031, 5, 1, 9)).toISOString(),
  recipients: ["cousin@example.com"],
  ownerEmail: "me@example.com",
  photoCount: 3,
  onClose: () => {},
};

async function open(props: Partial<typeof base> & { hasAccount: boolean }) {
  const onConfirm = vi.fn(async () => null);
  render(SealDialog, { props: { ...base, ...props, onConfirm } });
  return onConfirm;
}

async function confirmAndSeal() {
  await fireEvent.click(screen.getByRole("checkbox", { name: /I understand/ }));
  await fireEvent.click(screen.getByRole("button", { name: /Seal the capsule/ }));
}

async function sealWith(props: Partial<typeof base> & { hasAccount: boolean }, choose?: RegExp) {
  const onConfirm = await open(props);
  if (choose) await fireEvent.click(screen.getByRole("radio", { name: choose }));
  await confirmAndSeal();
  return onConfirm;
}

const ownerOnly = { days_before: 7, owner: true, show_title: false, recipients: [] };

describe("the seal dialog's lock", () => {
  it("keeps the safety key unless the person picks time alone", async () => {
    const onConfirm = await sealWith({ hasAccount: true });
    expect(onConfirm).toHaveBeenCalledWith(false, ownerOnly);
  });

  it("seals with the time lock alone when chosen", async () => {
    const onConfirm = await sealWith({ hasAccount: true }, /Only time can open it/);
    expect(onConfirm).toHaveBeenCalledWith(true, ownerOnly);
  });

  it("offers no choice without an account, and says why", async () => {
    const onConfirm = await sealWith({ hasAccount: false });
    expect(screen.queryByRole("radio")).toBeNull();
    expect(screen.queryByRole("checkbox", { name: /Remind me/ })).toBeNull();
    expect(screen.getByText(/not signed in to a server/)).toBeTruthy();
    expect(onConfirm).toHaveBeenCalledWith(false, null);
  });
});

describe("the seal dialog's reminders", () => {
  it("sends the days, the title and the recipients to tell as chosen", async () => {
    const onConfirm = await open({ hasAccount: true, recipients: ["cousin@example.com", "me@example.com"] });
    await fireEvent.input(screen.getByRole("spinbutton", { name: /Days before/ }), { target: { value: "30" } });
    await fireEvent.click(screen.getByRole("checkbox", { name: /Tell the recipient/ }));
    await fireEvent.click(screen.getByRole("checkbox", { name: /Show the title “Lake house”/ }));
    await confirmAndSeal();
    expect(onConfirm).toHaveBeenCalledWith(false, {
      days_before: 30,
      owner: true,
      show_title: true,
      recipients: ["cousin@example.com"],
    });
  });

  it("sends none when nobody is to be reminded", async () => {
    const onConfirm = await open({ hasAccount: true });
    await fireEvent.click(screen.getByRole("checkbox", { name: /Remind me/ }));
    await confirmAndSeal();
    expect(onConfirm).toHaveBeenCalledWith(false, null);
  });

  it("does not seal with days out of range, and says so", async () => {
    const onConfirm = await open({ hasAccount: true });
    await fireEvent.input(screen.getByRole("spinbutton", { name: /Days before/ }), { target: { value: "400" } });
    await fireEvent.click(screen.getByRole("checkbox", { name: /I understand/ }));
    expect(screen.getByText("Pick 1 to 365 days.")).toBeTruthy();
    const seal = screen.getByRole("button", { name: /Seal the capsule/ }) as HTMLButtonElement;
    expect(seal.disabled).toBe(true);
    expect(onConfirm).not.toHaveBeenCalled();
  });
});
