"use client";
import { useT } from "@/lib/i18n";
import type { usePageTokens } from "@/lib/paging";
import { Button } from "./ui/button";

export function Pager({ paging, nextPageToken }: { paging: ReturnType<typeof usePageTokens>; nextPageToken?: string | undefined }) {
  const t = useT();
  return (
    <div className="mt-3 flex gap-2">
      <Button variant="outline" size="sm" disabled={paging.isFirst} onClick={paging.first}>
        {t("common.previous")}
      </Button>
      <Button variant="outline" size="sm" disabled={!nextPageToken} onClick={() => nextPageToken && paging.next(nextPageToken)}>
        {t("common.next")}
      </Button>
    </div>
  );
}
