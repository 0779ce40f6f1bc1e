import { TenantmeshError } from "@tenantmesh/sdk";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ErrorAlert } from "@/components/error-alert";
import { DataTable } from "@/components/ui/table";
import { Field } from "@/components/ui/field";

describe("components", () => {
  it("shows people's text as text, never markup", () => {
    const payload = `<img src=x onerror="alert(1)">`;
    const { container } = render(
      <DataTable caption="People" rows={[{ id: "1", name: payload }]} rowKey={(r) => r.id} empty="none" columns={[{ header: "Name", cell: (r) => r.name }]} />,
    );
    expect(screen.getByRole("cell").textContent).toBe(payload);
    expect(container.querySelector("img")).toBeNull();
  });

  it("lists each invalid field the server named", () => {
    const error = new TenantmeshError({
      status: 400,
      code: "INVALID_ARGUMENT",
      message: "the request has invalid fields",
      fieldViolations: [{ field: "tenant.slug", description: "does not match", reason: "" }],
    });
    render(<ErrorAlert error={error} />);
    expect(screen.getByTestId("error").textContent).toContain("tenant.slug: does not match");
  });

  it("ties a field's label, help and error to its control", () => {
    render(
      <Field label="Slug" help="letters" error="too short">
        <input />
      </Field>,
    );
    const input = screen.getByLabelText("Slug");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toHaveLength(2);
  });
});
