import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { TenantmeshError, type Code } from "@tenantmesh/sdk";
import { act, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ErrorAlert } from "@/components/error-alert";
import { errorDetails, errorText, formatWait, REASON_WORDS } from "@/lib/errors";
import { useLocaleStore } from "@/lib/i18n";
import { LOCALES, MESSAGES } from "@/lib/messages";
import { refusalOf } from "@/lib/offline-queue";
import { tenantName } from "@/lib/tenants";

const SERVER_TEXT = "the request has invalid fields";

function refusal(reason: string, code: Code = "FAILED_PRECONDITION", retryDelay?: number): TenantmeshError {
  return new TenantmeshError({ status: 400, code, reason, message: SERVER_TEXT, requestId: "req-1", retryDelay });
}

/** The reasons the console's flows meet: each has words of its own in every locale. */
const FLOW_REASONS = [
  // sign-in and the session
  "INVALID_CREDENTIALS", "LOGIN_LOCKED", "MFA_CODE_INVALID", "MFA_CHALLENGE_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED",
  "REFRESH_TOKEN_INVALID", "REFRESH_TOKEN_REUSED",
  // forms
  "ANSWERS_INVALID", "FIELD_INVALID", "FORM_ARCHIVED", "FORM_NOT_PUBLISHED", "ETAG_MISMATCH", "REQUEST_ID_REUSED",
  // files
  "FILE_TOO_LARGE", "FILE_TYPE_NOT_ALLOWED", "STORAGE_FULL",
  // administration
  "PERMISSION_DENIED", "PERMISSION_ESCALATION", "MEMBERSHIP_EXISTS", "INVITATION_EXISTS", "INVITATION_RESENT_RECENTLY",
  "MENU_LIMIT_REACHED", "WEBHOOK_LIMIT_REACHED",
  // whatever the flow
  "UNAVAILABLE", "RATE_LIMITED", "NOT_FOUND",
];

/** Every ErrorInfo reason the services and the edge declare (their Reason enums). */
function declaredReasons(): Set<string> {
  const repo = path.resolve(__dirname, "../../..");
  const files = [
    ...readdirSync(path.join(repo, "services"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith("reasons.py"))
      .map((file) => path.join(repo, "services", file)),
    path.join(repo, "services/runtime/errors.py"),
    path.join(repo, "services/mesh/edge/replies.py"),
  ];
  const names = files.flatMap((file) => [...readFileSync(file, "utf8").matchAll(/^ {4}([A-Z][A-Z0-9_]+) = auto\(\)/gm)].map((m) => m[1]));
  return new Set(names);
}

describe("error messages", () => {
  it("words every reason of the console's flows in both languages, never with the server's text", () => {
    for (const reason of FLOW_REASONS) {
      const en = errorText("en", refusal(reason));
      const id = errorText("id", refusal(reason));
      expect(REASON_WORDS[reason], reason).toBeDefined();
      expect(en, reason).not.toBe(MESSAGES.en["error.generic"]);
      expect(id, reason).not.toBe(en);
      expect(`${en} ${id}`, reason).not.toContain(SERVER_TEXT);
    }
  });

  it("names only reasons the services declare", () => {
    const declared = declaredReasons();
    expect(Object.keys(REASON_WORDS).filter((reason) => !declared.has(reason))).toEqual([]);
  });

  it("says how long to wait when the server does (RetryInfo)", () => {
    expect(errorText("id", refusal("LOGIN_LOCKED", "RESOURCE_EXHAUSTED", 300))).toBe("Terlalu banyak percobaan. Coba lagi dalam 5 menit.");
    expect(errorText("en", refusal("LOGIN_LOCKED", "RESOURCE_EXHAUSTED", 300))).toBe("Too many attempts. Try again in 5 minutes.");
    expect(errorText("en", refusal("INVITATION_RESENT_RECENTLY", "RESOURCE_EXHAUSTED", 42.2))).toContain("in 43 seconds");
    expect(errorText("en", refusal("RATE_LIMITED", "RESOURCE_EXHAUSTED", 1))).toBe("Too many requests. Try again in 1 second.");
    expect(errorText("en", refusal("LOGIN_LOCKED", "RESOURCE_EXHAUSTED"))).toBe("Too many attempts. Try again later.");
    expect(formatWait("id", 7200)).toBe("2 jam");
  });

  it("falls back to the code's words, then to a generic sentence, in the user's language", () => {
    expect(errorText("id", refusal("SOMETHING_NEW", "NOT_FOUND"))).toBe(MESSAGES.id["error.notFound"]);
    expect(errorText("en", refusal("SOMETHING_NEW", "ABORTED"))).toBe(MESSAGES.en["error.changed"]);
    for (const locale of LOCALES) {
      expect(errorText(locale, refusal("SOMETHING_NEW", "INTERNAL"))).toBe(MESSAGES[locale]["error.generic"]);
      expect(errorText(locale, new TypeError("Failed to fetch"))).toBe(MESSAGES[locale]["error.generic"]);
    }
  });

  it("keeps what the server said for support", () => {
    expect(errorDetails(refusal("FORM_ARCHIVED"))).toBe(`FAILED_PRECONDITION FORM_ARCHIVED: ${SERVER_TEXT} (request req-1)`);
    expect(errorDetails(new TypeError("Failed to fetch"))).toBe("TypeError: Failed to fetch");
  });

  it("shows the reason's words in the alert, the server's text folded in the details", () => {
    act(() => useLocaleStore.setState({ locale: "id" }));
    try {
      render(<ErrorAlert error={refusal("MEMBERSHIP_EXISTS", "ALREADY_EXISTS")} />);
      const alert = screen.getByTestId("error");
      expect(alert.querySelector("p")?.textContent).toBe("Orang ini sudah menjadi anggota tenant ini.");
      expect(alert.querySelector("summary")?.textContent).toBe("Detail teknis");
      expect(alert.querySelector("details code")?.textContent).toContain(SERVER_TEXT);
    } finally {
      act(() => useLocaleStore.setState({ locale: "en" }));
    }
  });
});

describe("refused queued submissions", () => {
  it("are worded by the reason kept with them", () => {
    const item = { id: "1", owner: "o", operation: "SubmissionService_SubmitForm" as const, options: {}, queuedAt: "" };
    const archived = { ...item, error: `FAILED_PRECONDITION FORM_ARCHIVED: ${SERVER_TEXT}`, errorCode: "FAILED_PRECONDITION", errorReason: "FORM_ARCHIVED" };
    expect(errorText("id", refusalOf(archived))).toBe(MESSAGES.id["error.formArchived"]);
    expect(errorText("en", refusalOf({ ...item, error: SERVER_TEXT, errorCode: "NOT_A_CODE" }))).toBe(MESSAGES.en["error.generic"]);
  });
});

describe("tenant name", () => {
  it("is the display name, else the slug, else the id", () => {
    expect(tenantName({ displayName: "Acme Ltd", slug: "acme" }, "t-1")).toBe("Acme Ltd");
    expect(tenantName({ displayName: "", slug: "acme" }, "t-1")).toBe("acme");
    expect(tenantName(undefined, "t-1")).toBe("t-1");
  });
});
