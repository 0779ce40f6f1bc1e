import { TenantmeshError } from "@tenantmesh/sdk";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ErrorAlert } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
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

  it("opens a confirmation on demand, acts only when confirmed, and gives focus back", async () => {
    const onConfirm = vi.fn();
    render(
      <Confirm trigger={<Button>Delete Help</Button>} title="Delete Help?" confirmLabel="Delete" cancelLabel="Cancel" destructive onConfirm={onConfirm} />,
    );
    const trigger = screen.getByRole("button", { name: "Delete Help" });
    expect(trigger.getAttribute("aria-haspopup")).toBe("dialog");
    expect(screen.queryByRole("alertdialog")).toBeNull();

    trigger.focus();
    fireEvent.click(trigger);
    const dialog = await screen.findByRole("alertdialog", { name: "Delete Help?" });
    fireEvent.keyDown(dialog, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(onConfirm).not.toHaveBeenCalled();
    await waitFor(() => expect(document.activeElement).toBe(trigger));

    fireEvent.click(trigger);
    fireEvent.click(await screen.findByRole("button", { name: "Delete" }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
  });
});
