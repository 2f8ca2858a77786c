import { fireEvent, screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, me, renderWithApp } from "../test/utils";
import SignIn from "./SignIn";

function app() {
  return (
    <Routes>
      <Route path="/signin" element={<SignIn />} />
      <Route path="/" element={<p>Command center</p>} />
    </Routes>
  );
}

describe("SignIn", () => {
  it("says why the person is here after a session expired", () => {
    session.start({ access_token: "a", refresh_token: "r", expires_in: 900 }, null);
    session.end("expired");
    renderWithApp(app(), { route: "/signin" });
    expect(screen.getByText(/Your session has expired/)).toBeTruthy();
  });

  it("shows the API's refusal, then signs in into the chosen tenant", async () => {
    let attempts = 0;
    const calls = fakeApi(({ url }) => {
      if (url.pathname === "/api/v1/auth/login")
        return ++attempts === 1
          ? { status: 401, json: { code: "unauthenticated", detail: "wrong e-mail or password" } }
          : { json: { access_token: "a", refresh_token: "r", expires_in: 900 } };
      if (url.pathname === "/api/v1/auth/me") return { json: me("admin") };
      return undefined;
    });
    renderWithApp(app(), { route: "/signin" });
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "p@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "nope" } });
    fireEvent.change(screen.getByLabelText("Tenant (optional)"), { target: { value: "acme" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toContain("wrong e-mail or password");
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Command center")).toBeTruthy();
    expect(calls[1]!.body).toEqual({ email: "p@example.com", password: "nope", tenant: "acme" });
    // The tokens are for that tenant: nothing more to send, and switching back to it is free.
    expect(session.get()?.tenant).toBeNull();
    expect(session.get()?.homeTenant).toBe("default");
    session.setTenant("other");
    expect(session.get()?.tenant).toBe("other");
    session.setTenant("default");
    expect(session.get()?.tenant).toBeNull();
  });
});
