import { checkDefinition } from "@tenantmesh/form-engine";
import { describe, expect, it } from "vitest";
import { addField, emptyDefinition } from "@/lib/form-builder";
import { applyMove, customEntryId, customIdOf, menuKeys, orderedEntries } from "@/lib/menu-editor";
import { format, MESSAGES, preferredLocale } from "@/lib/messages";
import { buildNavigation, groupPermissions, hrefOf } from "@/lib/navigation";
import { safeNext } from "@/lib/redirect";
import { controlsOf, setAt, violationsOf } from "@/lib/schema-form";
import { parseLabels, stateName } from "@/lib/tenants";
import { fileRuleProblem } from "@/lib/upload";
import { base64Of, breaksOf, contractOf } from "@/lib/contracts";
import { fileFieldKeys } from "@/lib/submissions";

describe("messages", () => {
  it("has every English message in Indonesian, none empty", () => {
    expect(Object.keys(MESSAGES.id).sort()).toEqual(Object.keys(MESSAGES.en).sort());
    expect(Object.values(MESSAGES.id).filter((text) => text.trim() === "")).toEqual([]);
  });
  it("fills placeholders with text, leaves unknown ones", () => {
    expect(format("en", "dashboard.welcome", { name: "<b>Ada</b>" })).toBe("Welcome, <b>Ada</b>");
    expect(format("id", "app.queued", {})).toBe("{count} kiriman menunggu dikirim");
  });
  it("prefers Indonesian for id and id-ID, English otherwise", () => {
    expect(preferredLocale(["id-ID", "en"])).toBe("id");
    expect(preferredLocale(["nl", "fr"])).toBe("en");
  });
});

describe("navigation", () => {
  const menu = [
    { key: "users", kind: "ENTRY_KIND_ROUTE", label: "Pengguna", route: "/admin/users" },
    { key: "visit", kind: "ENTRY_KIND_FORM", label: "Visit", formId: "visit" },
    { key: "docs", kind: "ENTRY_KIND_EXTERNAL_LINK", label: "Docs", externalUrl: "javascript:alert(1)" },
  ];
  it("puts the menu between the console's own entries the caller may use", () => {
    const nodes = buildNavigation(menu, ["forms.forms.list"]);
    expect(nodes.map((n) => n.href ?? n.key)).toEqual(["/dashboard", "/admin/users", "/forms/fill?key=visit", "docs", "/forms", "/account"]);
  });
  it("never links to a script URL or another origin's path trick", () => {
    expect(hrefOf({ kind: "ENTRY_KIND_EXTERNAL_LINK", externalUrl: "javascript:alert(1)" })).toEqual({});
    expect(hrefOf({ kind: "ENTRY_KIND_ROUTE", route: "//evil.example" })).toEqual({});
    // A backslash reads as a slash, tabs and line breaks are dropped: off-site although "/..."
    for (const route of ["/\\evil.example/x", "/\t/evil.example", "/\n/evil.example"]) {
      expect(hrefOf({ kind: "ENTRY_KIND_ROUTE", route })).toEqual({});
    }
  });
  it("shows every console page to a platform administrator ('*')", () => {
    expect(buildNavigation([], ["*"]).map((n) => n.href)).toContain("/platform/keys");
  });
  it("groups permissions by service", () => {
    expect(groupPermissions(["auth.users.list", "forms.forms.get", "auth.roles.list"])).toEqual([
      ["auth", ["auth.roles.list", "auth.users.list"]],
      ["forms", ["forms.forms.get"]],
    ]);
  });
});

describe("small helpers", () => {
  it("redirects only within the console", () => {
    expect(safeNext("/admin/users?x=1")).toBe("/admin/users?x=1");
    expect(safeNext("//evil.example")).toBe("/dashboard");
    // What "?next=/%09/evil.example" and friends decode to: a browser would leave the console.
    for (const next of ["/\t/evil.example/phish", "/\n/evil.example", "/\r\n/evil.example", "/\t\\evil.example", "/\\evil.example"]) {
      expect(safeNext(next)).toBe("/dashboard");
    }
    expect(safeNext("https://evil.example")).toBe("/dashboard");
    expect(safeNext(null)).toBe("/dashboard");
  });
  it("reads labels and names states", () => {
    expect(parseLabels(" tier=gold, region = eu ,,flag")).toEqual({ tier: "gold", region: "eu", flag: "" });
    expect(stateName("TENANT_STATE_ACTIVE")).toBe("active");
  });
  it("orders menu entries by their effective parent and order, ties by key code point", () => {
    const placed = orderedEntries([
      { key: "b", order: 2 },
      { key: "a", order: 1 },
      { key: "child", parent: "a", order: 1 },
      { key: "c" },
      { key: "x-y", order: 5 },
      { key: "x/z", order: 5 },
      { key: "orphan", parent: "gone", order: 4 },
    ]);
    expect(placed.map((p) => [p.entry.key, p.depth, p.index])).toEqual([
      ["c", 0, 0],
      ["a", 0, 1],
      ["child", 1, 0],
      ["b", 0, 2],
      ["orphan", 0, 3],
      ["x-y", 0, 4],
      ["x/z", 0, 5],
    ]);
  });
});

describe("menu moves", () => {
  const entries = [
    { key: "users", parent: "admin", order: 20 },
    { key: "invitations", parent: "admin", order: 30 },
    { key: "roles", parent: "admin", order: 40 },
    { key: "forms", order: 100 },
    { key: "admin", order: 900 },
  ];
  const keysUnder = (list: typeof entries, parent: string) =>
    orderedEntries(list)
      .filter((p) => (p.entry.parent ?? "") === parent)
      .map((p) => p.entry.key);
  it("puts the entry at its position among its siblings, renumbered as the service does", () => {
    const moved = applyMove(entries, "roles", "admin", 0);
    expect(keysUnder(moved, "admin")).toEqual(["roles", "users", "invitations"]);
    expect(moved.find((e) => e.key === "roles")?.order).toBe(10);
    expect(keysUnder(applyMove(entries, "users", "admin", 1), "admin")).toEqual(["invitations", "users", "roles"]);
    expect(keysUnder(applyMove(entries, "users", "admin", 99), "admin")).toEqual(["invitations", "roles", "users"]);
  });
  it("moves an entry to another parent and leaves other levels alone", () => {
    const moved = applyMove(entries, "roles", "", 1);
    expect(keysUnder(moved, "")).toEqual(["forms", "roles", "admin"]);
    expect(keysUnder(moved, "admin")).toEqual(["users", "invitations"]);
    expect(applyMove(entries, "nothing", "", 0)).toEqual(entries);
  });
  it("collects every key of a menu tree", () => {
    expect([...menuKeys([{ key: "a", children: [{ key: "b", children: [{ key: "c" }] }] }, { key: "d" }])]).toEqual(["a", "b", "c", "d"]);
  });
});

describe("custom menu entries", () => {
  it("get ids the menus service accepts, whatever the label", () => {
    for (const label of ["Team wiki", "  Ünïcode & more!! ", "2024 report", "", "a".repeat(80)]) {
      expect(customEntryId(label, "x1y2z3")).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    }
    expect(customEntryId("Team wiki", "abc123")).toBe("team-wiki-abc123");
  });
  it("are the only entries with an id to delete", () => {
    expect(customIdOf({ key: "custom/team-wiki-abc123", source: "ENTRY_SOURCE_CUSTOM" })).toBe("team-wiki-abc123");
    expect(customIdOf({ key: "platform/users", source: "ENTRY_SOURCE_PLATFORM" })).toBeUndefined();
    expect(customIdOf({ key: "form/survey", source: "ENTRY_SOURCE_FORM" })).toBeUndefined();
  });
});

describe("forms in the browser", () => {
  it("builds definitions the form engine accepts", () => {
    let definition = emptyDefinition();
    definition = addField(definition, { key: "name", type: "SHORT_TEXT", label: "Name", locale: "en", required: true });
    definition = addField(definition, { key: "visitors", type: "INTEGER", label: "Visitors", locale: "en", required: false });
    expect(checkDefinition(definition)).toEqual([]);
    expect((definition.schema as { required: string[] }).required).toEqual(["name"]);
    definition = addField(definition, { key: "receipt", type: "FILE", label: "Receipt", locale: "en", required: true });
    expect(checkDefinition(definition)).toEqual([]);
  });
  it("refuses a file the field's rules refuse, before it is sent", () => {
    const rules = { maxBytes: "1000", accept: ["application/pdf", "image/*"] };
    expect(fileRuleProblem({ size: 1000, type: "application/pdf" }, rules)).toBeNull();
    expect(fileRuleProblem({ size: 1001, type: "application/pdf" }, rules)).toBe("tooLarge");
    expect(fileRuleProblem({ size: 10, type: "image/png" }, rules)).toBeNull();
    expect(fileRuleProblem({ size: 10, type: "text/plain" }, rules)).toBe("typeNotAllowed");
    expect(fileRuleProblem({ size: 10, type: "imagex/png" }, { accept: ["image/*"] })).toBe("typeNotAllowed");
    expect(fileRuleProblem({ size: 10 ** 9, type: "" }, undefined)).toBeNull();
  });
  it("renders a config schema as controls and validates it as the server does", () => {
    const schema = {
      type: "object",
      properties: { host: { type: "string", minLength: 3 }, tls: { type: "object", properties: { on: { type: "boolean" } } } },
      required: ["host"],
    };
    expect(controlsOf(schema).map((c) => [c.pointer, c.kind, c.required])).toEqual([
      ["/host", "text", true],
      ["/tls/on", "boolean", false],
    ]);
    expect(violationsOf(schema, {}, "en").map((v) => [v.pointer, v.keyword])).toEqual([["/host", "required"]]);
    expect(violationsOf(schema, { host: "ab" }, "en").map((v) => v.keyword)).toEqual(["minLength"]);
    expect(setAt(setAt({}, "/tls/on", true), "/tls/on", undefined)).toEqual({ tls: {} });
  });
});

describe("service contracts", () => {
  it("reads a .json file as an OpenAPI document and anything else as descriptor bytes", () => {
    const json = new TextEncoder().encode('{"openapi": "3.1.0"}');
    expect(contractOf("api.JSON", json)).toEqual({ openapi: { openapi: "3.1.0" } });
    expect(contractOf("api.json", new TextEncoder().encode("[1]"))).toBeNull();
    expect(contractOf("api.json", new TextEncoder().encode("{nope"))).toBeNull();
    expect(contractOf("set.binpb", new Uint8Array([0, 1, 254, 255]))).toEqual({ descriptorSet: "AAH+/w==" });
    expect(base64Of(new Uint8Array(100_000).fill(65))).toBe(btoa("A".repeat(100_000)));
  });
  it("lists the breaks of a CONTRACT_BREAKING refusal", () => {
    expect(breaksOf({ breaks: "FIELD_REMOVED a.B.c: field 2 removed\nRPC_REMOVED a.S.M: gone\n" })).toEqual([
      "FIELD_REMOVED a.B.c: field 2 removed",
      "RPC_REMOVED a.S.M: gone",
    ]);
    expect(breaksOf({})).toEqual([]);
  });
});

describe("submissions", () => {
  it("finds the FILE answers of a definition, through sections and pages, not inside groups", () => {
    const definition = {
      fields: [
        { key: "a", type: "FIELD_TYPE_FILE" },
        { key: "s", type: "FIELD_TYPE_SECTION", fields: [{ key: "b", type: "FIELD_TYPE_FILE" }, { key: "c", type: "FIELD_TYPE_SHORT_TEXT" }] },
        { key: "g", type: "FIELD_TYPE_GROUP", fields: [{ key: "d", type: "FIELD_TYPE_FILE" }] },
      ],
    };
    expect([...fileFieldKeys(definition)]).toEqual(["a", "b"]);
    expect([...fileFieldKeys(undefined)]).toEqual([]);
  });
});
