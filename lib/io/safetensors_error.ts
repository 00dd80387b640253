// The one error type the safetensors reader throws for a file it cannot trust.

/** A safetensors file that is malformed or could not be read completely. */
export class SafetensorsError extends Error {
  /** The path of the file, as it was given. */
  readonly file: string;
  /** The tensor the problem concerns, when it concerns one. */
  readonly tensor: string | undefined;

  constructor(file: string, tensor: string | undefined, detail: string, options?: ErrorOptions) {
    const where = tensor === undefined ? '' : `, tensor ${quoteForMessage(tensor)}`;
    super(`safetensors file '${file}'${where}: ${detail}`, options);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

/** A string as a JSON literal (control characters visible), shortened to keep messages readable. */
export function quoteForMessage(text: string, maxLength = 80): string {
  const shown = text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  return JSON.stringify(shown);
}
