// Which screen is showing. One screen at a time; the capsule screen knows its capsule.

export type View = { name: "library" } | { name: "capsule"; id: string } | { name: "settings" };

class Nav {
  view = $state<View>({ name: "library" });

  go(view: View): void {
    this.view = view;
  }

  /** The capsule on screen, if any. */
  get capsuleId(): string | null {
    return this.view.name === "capsule" ? this.view.id : null;
  }
}

export const nav = new Nav();
