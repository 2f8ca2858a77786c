import { fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Agent } from "../../api/schema.gen";
import { fakeApi, renderWithApp, signIn } from "../../test/utils";
import { AgentForm } from "./AgentForm";

beforeEach(() => signIn());

describe("AgentForm", () => {
  it("creates an agent with its capabilities as a list", async () => {
    const calls = fakeApi(({ method, url }) =>
      method === "POST" && url.pathname === "/api/v1/agents" ? { status: 201, json: { agent_id: "new" } } : undefined,
    );
    const done = vi.fn<(agent: Agent) => void>();
    renderWithApp(<AgentForm onDone={done} />);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "analyst" } });
    fireEvent.change(screen.getByLabelText("Role"), { target: { value: "Analyst" } });
    fireEvent.change(screen.getByLabelText("Capabilities"), { target: { value: "data, charts , " } });
    fireEvent.click(screen.getByRole("button", { name: "Create agent" }));
    await waitFor(() => expect(done).toHaveBeenCalledWith({ agent_id: "new" }));
    expect(calls[0]!.body).toMatchObject({ name: "analyst", role: "Analyst", capabilities: ["data", "charts"], model: "default", heartbeat_interval_seconds: 300 });
  });

  it("edits an agent and shows the API's refusal", async () => {
    fakeApi(({ method }) => (method === "PATCH" ? { status: 409, json: { code: "already_exists", detail: "an agent named writer exists" } } : undefined));
    const agent = { agent_id: "a1", name: "w2", role: "Writer", capabilities: [], instructions: "", model: "offline", heartbeat_interval_seconds: 60 } as unknown as Agent;
    renderWithApp(<AgentForm agent={agent} onDone={() => {}} />);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "writer" } });
    fireEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect((await screen.findByRole("alert")).textContent).toBe("an agent named writer exists");
  });
});
