"use client";
// The menu editor: the tenant's entries (platform, services', forms', custom) in their order —
// reorder (buttons, or dragging within a level), rename, hide, reset an entry to its default,
// add and delete custom entries — and a preview of the menu a role would see.
import { useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useLocaleStore, useT } from "@/lib/i18n";
import type { MenuItem } from "@/lib/navigation";
import { applyMove, customEntryId, customIdOf, menuKeys, orderedEntries } from "@/lib/menu-editor";
import { useMyMenu } from "@/lib/use-navigation";
import { cn } from "@/lib/utils";

type Entry = Schema<"tenantmesh.menus.v1.MenuEntry">;
type ListAnswer = Schema<"tenantmesh.menus.v1.ListMenuEntriesResponse">;

export default function MenuEditorPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const entriesKey = ["menu-entries", acting];
  const entries = useQuery({ queryKey: entriesKey, queryFn: () => api("MenuService_ListMenuEntries") });
  // The signed-in admin's own menu: an entry missing from it (a platform page, a disabled
  // service's) is marked, so a move past it is not expected to change the navigation.
  const myMenu = useMyMenu();
  const shown = acting ? null : menuKeys(myMenu.data ?? []);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["menu-entries"] });
    void queryClient.invalidateQueries({ queryKey: ["my-menu"] });
  };
  const move = useMutation({
    mutationFn: ({ entry, position }: { entry: Entry; position: number }) =>
      api("MenuService_MoveMenuEntry", { body: { key: entry.key ?? "", parent: entry.parent ?? "", position } }),
    // Shown at once, as the service will place it; the service's answer replaces it.
    onMutate: async ({ entry, position }) => {
      await queryClient.cancelQueries({ queryKey: entriesKey });
      const before = queryClient.getQueryData<ListAnswer>(entriesKey);
      if (before) {
        queryClient.setQueryData<ListAnswer>(entriesKey, {
          ...before,
          entries: applyMove(before.entries ?? [], entry.key ?? "", entry.parent ?? "", position),
        });
      }
      return { before };
    },
    onError: (_error, _variables, context) => {
      if (context?.before) queryClient.setQueryData(entriesKey, context.before);
    },
    onSettled: refresh,
  });
  const override = useMutation({
    mutationFn: async ({ entry, change }: { entry: Entry; change: { label?: string; hidden?: boolean } }) => {
      // A custom entry is the tenant's own: it is renamed in place (overrides are for entries of
      // the platform, services and forms), and deleted rather than hidden.
      const customId = customIdOf(entry);
      if (customId !== undefined) {
        await api("MenuService_UpdateCustomEntry", {
          path: { entryId: customId },
          query: { updateMask: "label" },
          body: { label: change.label ?? "" } as never,
        });
        return;
      }
      await api("MenuService_SetMenuOverride", {
        body: { override: { ...(entry.override ?? {}), key: entry.key ?? "", ...change } as never },
      });
    },
    onSettled: refresh,
  });
  // Back to the entry's own label, visibility and place: the tenant's override goes, conditional
  // on the version the editor shows (a change made meanwhile answers ETAG_MISMATCH).
  const reset = useMutation({
    mutationFn: (entry: Entry) =>
      api("MenuService_ClearMenuOverride", { body: { key: entry.key ?? "", etag: entry.override?.etag ?? "" } }),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (entryId: string) => api("MenuService_DeleteCustomEntry", { path: { entryId } }),
    onSettled: refresh,
  });
  const [renaming, setRenaming] = useState<{ key: string; label: string } | null>(null);
  // The entry being dragged: a ref for the drag events (they fire before a re-render), state for
  // the drop targets' outline.
  const dragged = useRef<Entry | null>(null);
  const [dragging, setDragging] = useState<Entry | null>(null);
  const placed = orderedEntries(entries.data?.entries ?? []);
  // One move at a time: a second one computed from a list the first is changing would land wrong.
  const moving = move.isPending;
  return (
    <AppShell title={t("menus.title")}>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <p className="mb-3 text-sm text-slate-700">{t("menus.dragHint")}</p>
          <ErrorAlert error={entries.error ?? move.error ?? override.error ?? reset.error ?? remove.error} />
          <ol className="flex flex-col gap-1" data-testid="menu-entries" aria-busy={moving}>
            {placed.map(({ entry, depth, index, count }) => {
              const label = entry.override?.label || entry.label || entry.key || "";
              const hidden = entry.hidden ?? false;
              const customId = customIdOf(entry);
              const accepts = (from: Entry | null) => from !== null && from.key !== entry.key && (from.parent ?? "") === (entry.parent ?? "");
              return (
                <li
                  key={entry.key}
                  data-key={entry.key}
                  draggable={!moving}
                  onDragStart={(event) => {
                    event.dataTransfer.effectAllowed = "move";
                    event.dataTransfer.setData("text/plain", entry.key ?? "");
                    dragged.current = entry;
                    setDragging(entry);
                  }}
                  onDragEnd={() => {
                    dragged.current = null;
                    setDragging(null);
                  }}
                  onDragOver={(event) => {
                    if (accepts(dragged.current)) event.preventDefault();
                  }}
                  onDrop={(event) => {
                    event.preventDefault();
                    const from = dragged.current;
                    if (from && accepts(from)) move.mutate({ entry: from, position: index });
                    dragged.current = null;
                    setDragging(null);
                  }}
                  className={cn(
                    "flex flex-wrap items-center gap-2 rounded border border-slate-200 bg-white p-2",
                    accepts(dragging) && "border-dashed border-blue-700",
                  )}
                  style={{ marginLeft: depth * 16 }}
                >
                  <span aria-hidden="true" className="cursor-grab text-slate-500 select-none">
                    ⠿
                  </span>
                  <span className="flex-1 text-sm" data-testid="menu-entry-label">
                    {label} {hidden ? <Badge>{t("menus.hidden")}</Badge> : null}{" "}
                    {shown && !hidden && !shown.has(entry.key ?? "") ? <Badge>{t("menus.notInYourMenu")}</Badge> : null}
                  </span>
                  <Button size="sm" variant="outline" disabled={index === 0 || moving} onClick={() => move.mutate({ entry, position: index - 1 })}>
                    {t("menus.up")} <span className="sr-only">{label}</span>
                  </Button>
                  <Button size="sm" variant="outline" disabled={index === count - 1 || moving} onClick={() => move.mutate({ entry, position: index + 1 })}>
                    {t("menus.down")} <span className="sr-only">{label}</span>
                  </Button>
                  {customId ? null : (
                    <Button size="sm" variant="outline" onClick={() => override.mutate({ entry, change: { hidden: !hidden } })}>
                      {hidden ? t("menus.show") : t("menus.hide")} <span className="sr-only">{label}</span>
                    </Button>
                  )}
                  <Button size="sm" variant="ghost" onClick={() => setRenaming({ key: entry.key ?? "", label })}>
                    {t("menus.rename")} <span className="sr-only">{label}</span>
                  </Button>
                  {entry.override ? (
                    <Button size="sm" variant="ghost" disabled={reset.isPending} onClick={() => reset.mutate(entry)}>
                      {t("menus.reset")} <span className="sr-only">{label}</span>
                    </Button>
                  ) : null}
                  {customId ? (
                    <Confirm
                      trigger={
                        <Button size="sm" variant="destructive" disabled={remove.isPending}>
                          {t("common.delete")} <span className="sr-only">{label}</span>
                        </Button>
                      }
                      title={t("menus.confirmDelete", { label })}
                      destructive
                      confirmLabel={t("common.delete")}
                      cancelLabel={t("common.cancel")}
                      onConfirm={() => remove.mutate(customId)}
                    />
                  ) : null}
                  {renaming && renaming.key === entry.key ? (
                    <form
                      className="flex w-full gap-2"
                      onSubmit={(event) => {
                        event.preventDefault();
                        override.mutate({ entry, change: { label: renaming.label } });
                        setRenaming(null);
                      }}
                    >
                      <Input aria-label={t("menus.label")} value={renaming.label} onChange={(e) => setRenaming({ key: renaming.key, label: e.target.value })} />
                      <Button type="submit" size="sm">
                        {t("common.save")}
                      </Button>
                    </form>
                  ) : null}
                </li>
              );
            })}
          </ol>
        </Card>
        <div className="flex flex-col gap-4">
          <AddCustomEntry onAdded={refresh} />
          <PreviewAsRole />
        </div>
      </div>
    </AppShell>
  );
}

function AddCustomEntry({ onAdded }: { onAdded: () => void }) {
  const t = useT();
  const [label, setLabel] = useState("");
  const [target, setTarget] = useState("");
  const add = useMutation({
    mutationFn: () => {
      const external = /^https?:\/\//.test(target);
      return api("MenuService_CreateCustomEntry", {
        query: { requestId: crypto.randomUUID() },
        body: {
          entryId: customEntryId(label),
          label,
          kind: external ? "ENTRY_KIND_EXTERNAL_LINK" : "ENTRY_KIND_ROUTE",
          ...(external ? { externalUrl: target } : { route: target }),
        } as never,
      });
    },
    onSuccess: () => {
      setLabel("");
      setTarget("");
      onAdded();
    },
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("menus.addEntry")}</h2>
      <form
        className="flex flex-col gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          add.mutate();
        }}
      >
        <Field label={t("menus.label")}>
          <Input value={label} onChange={(e) => setLabel(e.target.value)} />
        </Field>
        <Field label={t("menus.route")}>
          <Input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="/forms/fill?key=…" />
        </Field>
        <ErrorAlert error={add.error} />
        <div>
          <Button type="submit" disabled={!label || !target}>
            {t("menus.addEntry")}
          </Button>
        </div>
      </form>
    </Card>
  );
}

function PreviewAsRole() {
  const t = useT();
  const locale = useLocaleStore((s) => s.locale);
  const acting = useActingTenant((s) => s.tenantId);
  const roles = useQuery({ queryKey: ["roles", acting], queryFn: () => api("RoleService_ListRoles") });
  const [role, setRole] = useState("");
  const preview = useQuery({
    queryKey: ["menu-preview", acting, role, locale],
    queryFn: () => api("MenuService_PreviewMenu", { body: { roles: { roles: [role] }, locale } as never }),
    enabled: role !== "",
  });
  const render = (items: MenuItem[]) => (
    <ul className="list-disc pl-5 text-sm">
      {items.map((item) => (
        <li key={item.key}>
          {item.label}
          {item.children?.length ? render(item.children) : null}
        </li>
      ))}
    </ul>
  );
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("menus.preview")}</h2>
      <Field label={t("menus.role")}>
        <Select value={role} onChange={(e) => setRole(e.target.value)}>
          <option value="">—</option>
          {(roles.data?.roles ?? []).map((r) => (
            <option key={r.name} value={r.name}>
              {r.name}
            </option>
          ))}
        </Select>
      </Field>
      <ErrorAlert error={preview.error} />
      <div className="mt-3" data-testid="menu-preview">
        {preview.data ? render((preview.data.items ?? []) as MenuItem[]) : null}
      </div>
    </Card>
  );
}
