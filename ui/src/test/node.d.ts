// The little of Node that tests use (reading a repository file), without all of @types/node.
declare module "node:fs" {
  export function readFileSync(path: string, encoding: "utf8"): string;
}
declare const process: { cwd(): string };
