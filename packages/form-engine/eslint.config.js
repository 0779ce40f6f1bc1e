// Lint for the browser module: typescript-eslint's strict, type-aware rules.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // Answers are plain JSON objects keyed by user data: dropping a hidden or unknown answer is a delete.
      "@typescript-eslint/no-dynamic-delete": "off",
    },
  },
);
