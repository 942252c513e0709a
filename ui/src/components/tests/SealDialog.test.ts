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

async function sealWith(props: Partial<typeof base> & { hasAccount: boolean }, choose?: RegExp) {
  const onConfirm = vi.fn(async () => null);
  render(SealDialog, { props: { ...base, ...props, onConfirm } });
  if (choose) await fireEvent.click(screen.getByRole("radio", { name: choose }));
  await fireEvent.click(screen.getByRole("checkbox"));
  await fireEvent.click(screen.getByRole("button", { name: /Seal the capsule/ }));
  return onConfirm;
}

describe("the seal dialog's lock", () => {
  it("keeps the safety key unless the person picks time alone", async () => {
    const onConfirm = await sealWith({ hasAccount: true });
    expect(onConfirm).toHaveBeenCalledWith(false);
  });

  it("seals with the time lock alone when chosen", async () => {
    const onConfirm = await sealWith({ hasAccount: true }, /Only time can open it/);
    expect(onConfirm).toHaveBeenCalledWith(true);
  });

  it("offers no choice without an account, and says why", async () => {
    const onConfirm = await sealWith({ hasAccount: false });
    expect(screen.queryByRole("radio")).toBeNull();
    expect(screen.getByText(/not signed in to a server/)).toBeTruthy();
    expect(onConfirm).toHaveBeenCalledWith(false);
  });
});
