"use client";
// A FILE answer in a submission's detail: the file's name and size (from the files service, as
// the uploader gave them: text) and a download, for those who review.
import { useMutation, useQuery } from "@tanstack/react-query";
import { ErrorAlert } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { useActingTenant } from "@/lib/acting-tenant";
import { api, apiDownload } from "@/lib/api";
import { useFormat, useT } from "@/lib/i18n";
import { saveBlob } from "@/lib/save-blob";

export function FileAnswer({ fileId }: { fileId: string }) {
  const t = useT();
  const fmt = useFormat();
  const acting = useActingTenant((s) => s.tenantId);
  const file = useQuery({
    queryKey: ["file", acting, fileId],
    queryFn: () => api("FileService_GetFile", { path: { fileId } }),
  });
  const name = file.data?.file?.filename || fileId;
  const download = useMutation({
    mutationFn: async () => saveBlob(await apiDownload(`/v1/files/${encodeURIComponent(fileId)}:download`), name),
  });
  return (
    <span className="flex flex-wrap items-center gap-2">
      <span>
        {name}
        {file.data?.file?.sizeBytes !== undefined ? ` (${fmt.bytes(Number(file.data.file.sizeBytes))})` : ""}
      </span>
      <Button type="button" size="sm" variant="outline" disabled={download.isPending} onClick={() => download.mutate()}>
        {t("submissions.download")} <span className="sr-only">{name}</span>
      </Button>
      <ErrorAlert error={file.error ?? download.error} />
    </span>
  );
}
