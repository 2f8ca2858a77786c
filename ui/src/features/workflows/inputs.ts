// Pure: the start-run form from a definition's `inputs`, and the form's text back to values.

export type InputType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "any";

export interface InputField {
  name: string;
  type: InputType;
  required: boolean;
  description: string;
  default: unknown;
  options: unknown[] | null;
}

const TYPES: readonly InputType[] = ["string", "number", "integer", "boolean", "object", "array", "any"];

/** The fields of a (normalised) definition's `inputs`, in their order. */
export function inputFields(definition: Record<string, unknown> | null | undefined): InputField[] {
  const inputs = definition?.inputs;
  if (!inputs || typeof inputs !== "object") return [];
  return Object.entries(inputs as Record<string, Record<string, unknown> | null>).map(([name, spec]) => {
    const type = TYPES.includes(spec?.type as InputType) ? (spec!.type as InputType) : "string";
    return {
      name,
      type,
      required: spec?.required === true,
      description: typeof spec?.description === "string" ? spec.description : "",
      default: spec?.default ?? null,
      options: Array.isArray(spec?.enum) ? spec.enum : null,
    };
  });
}

const isStructured = (field: InputField) => field.type === "object" || field.type === "array" || field.type === "any";

/** The form's starting text for a field: its default, written as it would be typed. */
export function initialText(field: InputField): string {
  if (field.default === null || field.default === undefined) return "";
  if (typeof field.default === "string") return field.default;
  if (isStructured(field) || typeof field.default === "object") return JSON.stringify(field.default);
  return String(field.default);
}

/**
 * The inputs of a run from the form's texts. An empty optional field is left out (the run
 * gets its default); a required one is an error, as is a number or JSON that does not parse.
 */
export function readInputs(
  fields: readonly InputField[],
  texts: Readonly<Record<string, string>>,
): { inputs: Record<string, unknown>; errors: Record<string, string> } {
  const inputs: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const text = texts[field.name] ?? "";
    if (text.trim() === "") {
      if (field.required) errors[field.name] = "Required.";
      continue;
    }
    if (field.options) {
      const option = field.options.find((candidate) => String(candidate) === text);
      if (option === undefined) errors[field.name] = "Pick one of the options.";
      else inputs[field.name] = option;
      continue;
    }
    switch (field.type) {
      case "number":
      case "integer": {
        const value = Number(text);
        if (!Number.isFinite(value)) errors[field.name] = "A number.";
        else if (field.type === "integer" && !Number.isInteger(value)) errors[field.name] = "A whole number.";
        else inputs[field.name] = value;
        break;
      }
      case "boolean":
        inputs[field.name] = text === "true";
        break;
      case "object":
      case "array":
      case "any":
        try {
          inputs[field.name] = JSON.parse(text);
        } catch {
          if (field.type === "any") inputs[field.name] = text;
          else errors[field.name] = `JSON (${field.type === "object" ? "{…}" : "[…]"}).`;
        }
        break;
      default:
        inputs[field.name] = text;
    }
  }
  return { inputs, errors };
}
