"use client";
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { useSession } from "@/lib/session";

/** The console's root: the dashboard when signed in, sign-in otherwise. */
export default function Home() {
  const router = useRouter();
  const signedIn = useSession((s) => s.tokens !== null);
  useEffect(() => {
    router.replace(signedIn ? "/dashboard" : "/login");
  }, [router, signedIn]);
  return null;
}
