// Errors as the person reads them: every failure that reaches a view is an AppError with a
// sentence to show; the code (the app's own or the server's, typed from the Rust side) is
// for deciding what to do, never shown.

import type { ErrorKind } from "./bindings.gen";

export type { ErrorKind };

export class AppError extends Error {
  constructor(
    readonly code: ErrorKind,
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

  /** The server cannot be reached; the work is kept and sent later. */
  get offline(): boolean {
    return this.code === "offline";
  }

  /** The person has to log in (again) for this to work. */
  get needsLogIn(): boolean {
    return (
      this.code === "signed_out" ||
      this.code === "not_logged_in" ||
      this.code === "unauthorized" ||
      this.code === "invalid_refresh_token" ||
      this.code === "refresh_token_reused"
    );
  }

  /** The capsule is sealed, here or on the server (perhaps by another computer). */
  get sealed(): boolean {
    return this.code === "sealed" || this.code === "capsule_sealed";
  }
}

/** The sentence to show for any thrown value. */
export function sentence(e: unknown): string {
  if (e instanceof AppError) return e.message;
  return AppError.unexpected(e).message;
}

/** The AppError behind a thrown value, if it is one. */
export function appError(e: unknown): AppError | null {
  return e instanceof AppError ? e : null;
}
