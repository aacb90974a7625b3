// One way to turn whatever was thrown into text for a log line or a status message.

/** The message of an Error, or the thrown value as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
