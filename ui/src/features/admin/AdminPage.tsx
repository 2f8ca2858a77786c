import { useState } from "react";
import { useCan } from "../../auth/useAuth";
import { PageHeader } from "../../components/Card";
import { Tabs } from "../../components/Tabs";
import { ApiKeysPanel } from "./ApiKeysPanel";
import { AuditPanel } from "./AuditPanel";
import { InvitationsPanel } from "./InvitationsPanel";
import { MembersPanel } from "./MembersPanel";
import { ModelsPanel } from "./ModelsPanel";

type Tab = "people" | "invitations" | "keys" | "models" | "audit";

export default function AdminPage() {
  const can = useCan();
  const tabs = [
    { id: "people" as const, label: "Users and roles", show: can("users:manage") },
    { id: "invitations" as const, label: "Invitations", show: can("users:manage") },
    { id: "keys" as const, label: "API keys", show: can("api_keys:manage") },
    { id: "models" as const, label: "Models and credentials", show: can("models:read") },
    { id: "audit" as const, label: "Audit log", show: can("audit:read") },
  ].filter((tab) => tab.show);
  const [tab, setTab] = useState<Tab>(tabs[0]?.id ?? "models");
  return (
    <>
      <PageHeader title="Admin" subtitle="People, keys, model providers and the audit trail." />
      <Tabs label="Admin" tabs={tabs} value={tab} onChange={setTab} />
      {tab === "people" && <MembersPanel />}
      {tab === "invitations" && <InvitationsPanel />}
      {tab === "keys" && <ApiKeysPanel />}
      {tab === "models" && <ModelsPanel />}
      {tab === "audit" && <AuditPanel />}
    </>
  );
}
