// The rule every form follows: a field's problem is computed from its current value and
// shown next to that field, once the person has tried to submit (or, for a value that can
// only be checked after typing, once they typed it); an answer from the app (a refused
// password, a server that is down) is shown once, above the button, only while the form
// still holds what was submitted. Fix a value and its message goes at once.

/** The app's answer to a submission, tied to the values it answered. */
export class Answer {
  #text = $state<string | null>(null);
  #for = $state<string | null>(null);

  constructor(private values: () => unknown) {}

  /** Keeps the answer (null: none) for the values on screen now. */
  set(text: string | null): void {
    this.#text = text;
    this.#for = JSON.stringify(this.values());
  }

  /** The answer, while the values are still the ones it was given for. */
  get text(): string | null {
    if (this.#text === null || this.#for !== JSON.stringify(this.values())) return null;
    return this.#text;
  }
}

/** Whether the person has tried to submit: field problems show from then on. */
export class Attempt {
  tried = $state(false);

  /** Marks a try; answers whether the form may go (no field problem). */
  submit(problems: Record<string, string | null>): boolean {
    this.tried = true;
    return Object.values(problems).every((p) => p === null);
  }

  /** A field's problem as it should show now. */
  show(problem: string | null): string | null {
    return this.tried ? problem : null;
  }

  reset(): void {
    this.tried = false;
  }
}
