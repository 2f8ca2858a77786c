import { fireEvent, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { WorkflowSaved } from "../../api/schema.gen";
import { fakeApi, renderWithApp, signIn, stubResizeObserver } from "../../test/utils";
import { DefinitionEditor, offsetOf, type SavedSource } from "./DefinitionEditor";

const SOURCE = "name: flow\nnodes:\n  draft: {type: llm, prompt: hi}\n  review: {type: approval, needs: [draft], message: ok?}\n";
const graph = {
  nodes: [{ id: "draft", type: "llm", needs: [], description: "" }, { id: "review", type: "approval", needs: ["draft"], description: "" }],
  edges: [{ source: "draft", target: "review", kind: "needs" }],
  order: ["draft", "review"],
};
const fault = { location: "nodes.review.needs[1]", message: "no node 'nowhere'", line: 4, column: 42 };

beforeEach(() => {
  signIn();
  stubResizeObserver();
});

describe("DefinitionEditor", () => {
  it("checks the YAML as it is typed and outlines the node a fault points at", async () => {
    const calls = fakeApi(({ url, body }) => {
      if (url.pathname !== "/api/v1/workflows/validate") return undefined;
      return String(body).includes("nowhere")
        ? { json: { is_valid: false, name: null, errors: [fault], graph: null } }
        : { json: { is_valid: true, name: "flow", errors: [], graph } };
    });
    renderWithApp(<DefinitionEditor initial={SOURCE} canSave />);
    expect((await screen.findByTestId("definition-status", {}, { timeout: 3000 })).textContent).toContain("Valid · 2 nodes");
    expect(calls[0]!.headers.get("content-type")).toBe("application/yaml");
    await waitFor(() => expect(document.querySelector('[data-node-id="review"]')).not.toBeNull());
    expect(document.querySelector('[data-node-id="review"]')!.hasAttribute("data-has-errors")).toBe(false);

    fireEvent.change(screen.getByLabelText("Definition (YAML)"), { target: { value: SOURCE.replace("[draft]", "[draft, nowhere]") } });
    const errors = await screen.findByTestId("definition-errors", {}, { timeout: 3000 });
    expect(errors.textContent).toContain("line 4, column 42");
    expect(errors.textContent).toContain("no node 'nowhere'");
    expect(errors.textContent).toContain("(node review)");
    // The last good graph stays, with the faulty node outlined.
    await waitFor(() => expect(document.querySelector('[data-node-id="review"]')?.getAttribute("data-has-errors")).toBe("true"));
    expect(document.querySelector('[data-node-id="draft"]')!.hasAttribute("data-has-errors")).toBe(false);
  });

  it("saves the text as YAML and shows the faults of a refused save", async () => {
    let refuse = true;
    const calls = fakeApi(({ method, url }) => {
      if (url.pathname === "/api/v1/workflows/validate") return { json: { is_valid: true, name: "flow", errors: [], graph } };
      if (method === "POST" && url.pathname === "/api/v1/workflows")
        return refuse
          ? { status: 422, json: { code: "invalid_workflow", detail: "1 fault", errors: [fault] } }
          : { status: 201, json: { name: "flow", version: 2, is_new_version: true } };
      return undefined;
    });
    const saved = vi.fn<(saved: WorkflowSaved) => void>();
    renderWithApp(<DefinitionEditor initial={SOURCE} canSave onSaved={saved} />);
    fireEvent.change(screen.getByLabelText("Note (optional)"), { target: { value: "tighter review" } });
    fireEvent.click(screen.getByRole("button", { name: "Save version" }));
    expect((await screen.findByTestId("definition-errors")).textContent).toContain("no node 'nowhere'");
    const post = calls.find((c) => c.method === "POST" && c.path.startsWith("/api/v1/workflows?"))!;
    expect(post.path).toBe("/api/v1/workflows?note=tighter+review");
    expect(post.body).toBe(SOURCE);
    refuse = false;
    fireEvent.click(screen.getByRole("button", { name: "Save version" }));
    await waitFor(() => expect(saved).toHaveBeenCalledWith(expect.objectContaining({ version: 2 })));
  });

  it("keeps a viewer's copy read-only, with no save", () => {
    fakeApi(() => undefined);
    renderWithApp(<DefinitionEditor initial={SOURCE} canSave={false} />);
    expect(screen.getByLabelText("Definition (YAML)").hasAttribute("readonly")).toBe(true);
    expect(screen.queryByRole("button", { name: "Save version" })).toBeNull();
  });
});

/** The editor on a page whose newest version changes live (the button stands in for an event). */
function LiveEditor({ next }: { next: SavedSource }) {
  const [newest, setNewest] = useState<SavedSource>({ version: 1, source: SOURCE });
  return (
    <>
      <button type="button" onClick={() => setNewest(next)}>event</button>
      <DefinitionEditor initial={newest.source} newest={newest} canSave />
    </>
  );
}

describe("DefinitionEditor and versions saved meanwhile", () => {
  beforeEach(() => {
    fakeApi(({ url }) => (url.pathname === "/api/v1/workflows/validate" ? { json: { is_valid: true, name: "flow", errors: [], graph } } : undefined));
  });

  it("keeps the draft and offers the newer version", () => {
    const theirs = SOURCE.replace("hi", "hello");
    renderWithApp(<LiveEditor next={{ version: 2, source: theirs }} />);
    const editor = screen.getByLabelText<HTMLTextAreaElement>("Definition (YAML)");
    fireEvent.change(editor, { target: { value: `${SOURCE}# mine\n` } });
    fireEvent.click(screen.getByRole("button", { name: "event" }));
    expect(screen.getByTestId("newer-version").textContent).toContain("v2 was saved since you started editing v1");
    expect(editor.value).toBe(`${SOURCE}# mine\n`);
    fireEvent.click(screen.getByRole("button", { name: "Load v2" }));
    expect(editor.value).toBe(theirs);
    expect(screen.queryByTestId("newer-version")).toBeNull();
  });

  it("takes a version with the draft's own text (its own save) without a word", () => {
    const mine = `${SOURCE}# mine\n`;
    renderWithApp(<LiveEditor next={{ version: 2, source: mine }} />);
    fireEvent.change(screen.getByLabelText("Definition (YAML)"), { target: { value: mine } });
    fireEvent.click(screen.getByRole("button", { name: "event" }));
    expect(screen.queryByTestId("newer-version")).toBeNull();
  });
});

describe("offsetOf", () => {
  it("finds a line and column in the text, clamped to it", () => {
    const text = "ab\ncdef\ng";
    expect(offsetOf(text, 2, 3)).toBe(5);
    expect(offsetOf(text, 1, null)).toBe(0);
    expect(offsetOf(text, 9, 9)).toBe(text.length);
  });
});
