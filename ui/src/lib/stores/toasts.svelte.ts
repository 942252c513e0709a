// Short messages at the corner of the window: what happened, in a sentence.

export interface Toast {
  id: number;
  text: string;
  tone: "info" | "ok" | "bad";
}

class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  show(text: string, tone: Toast["tone"] = "info", ms = 6000): void {
    const id = this.#next++;
    this.items.push({ id, text, tone });
    if (ms > 0) setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}

export const toasts = new Toasts();
