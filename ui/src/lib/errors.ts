// Errors as the person reads them: every failure that reaches a view is an AppError with a
// sentence to show; codes are for deciding what to do, never shown.

export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AppError";
  }

  /** A failure of the app itself; the detail goes to the console, the person gets a sentence. */
  static unexpected(detail: unknown): AppError {
    console.error("unexpected failure", detail);
    return new AppError("unexpected", "Something went wrong inside the app. Please try again.");
  }

  get offline(): boolean {
    return this.code === "offline";
  }
}

/** The sentence to show for any thrown value. */
export function sentence(e: unknown): string {
  if (e instanceof AppError) return e.message;
  return AppError.unexpected(e).message;
}
