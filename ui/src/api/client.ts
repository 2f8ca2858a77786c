// One fetch wrapper for the whole API: bearer token, X-Tenant, problem+json errors, and a
// single-flight token refresh when the access token has expired.
import type { TokenPair } from "./schema.gen";
import { session } from "./session";

export const API = "/api/v1";

/** An API error, carrying the problem+json body (`code`, `detail`, and extras). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>) {
    const detail = String(problem.detail ?? problem.title ?? `HTTP ${status}`);
    super(detail);
    this.status = status;
    this.code = String(problem.code ?? "http_error");
    this.detail = detail;
    this.problem = problem;
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  /** A body sent as it is, with its own content type (e.g. a YAML definition). */
  text?: { content: string; type: string };
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send without a token (sign-in, refresh). */
  anonymous?: boolean;
}

export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

let refreshing: Promise<boolean> | null = null;

/** Exchange the refresh token for new tokens, once even when many requests ask at the same time. */
export function refreshTokens(): Promise<boolean> {
  refreshing ??= doRefresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function doRefresh(): Promise<boolean> {
  const run = async (): Promise<boolean> => {
    const before = session.get();
    const latest = session.reload();
    if (!latest) return false;
    // Another tab refreshed while we waited: its tokens are ours too.
    if (before && latest.refreshToken !== before.refreshToken && latest.expiresAt > Date.now())
      return true;
    const response = await fetch(`${API}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: latest.refreshToken }),
    });
    if (!response.ok) return false;
    session.update((await response.json()) as TokenPair);
    return true;
  };
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? locks.request("mc-refresh", run) : run();
}

/** A fresh access token (refreshed first when it is about to expire), or null when signed out. */
export async function accessToken(): Promise<string | null> {
  const current = session.get();
  if (!current) return null;
  if (current.expiresAt - 20_000 < Date.now()) {
    if (!(await refreshTokens())) {
      session.end("expired");
      return null;
    }
  }
  return session.get()?.accessToken ?? null;
}

export function authHeaders(token: string | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const tenant = session.get()?.tenant;
  if (tenant) headers["x-tenant"] = tenant;
  return headers;
}

async function send(path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(token), ...options.headers };
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  } else if (options.text !== undefined) {
    headers["content-type"] = options.text.type;
    body = options.text.content;
  }
  return fetch(withQuery(`${API}${path}`, options.query), {
    method: options.method ?? "GET",
    headers,
    body,
    signal: options.signal,
  });
}

async function problemOf(response: Response): Promise<ApiError> {
  let problem: Record<string, unknown> = { title: response.statusText };
  try {
    problem = (await response.json()) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): keep the status text.
  }
  return new ApiError(response.status, problem);
}

/** The raw response of an authenticated request (for CSV downloads and headers). */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const token = options.anonymous ? null : await accessToken();
  let response = await send(path, options, token);
  if (response.status === 401 && !options.anonymous && session.get()) {
    if (await refreshTokens()) {
      response = await send(path, options, session.get()?.accessToken ?? null);
    }
    if (response.status === 401) session.end("expired");
  }
  if (!response.ok) throw await problemOf(response);
  return response;
}

/** JSON in, JSON out; errors become ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

/** Download an authenticated response as a file (CSV exports). */
export async function download(path: string, query: RequestOptions["query"], filename: string) {
  const response = await request(path, { query });
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
