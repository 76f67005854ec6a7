// Tailwind CSS v3 configuration. `make generate` builds static/css/app.css
// from static/src/input.css; the output is committed and embedded, so `go run`
// needs no Node.
/** @type {import('tailwindcss').Config} */
module.exports = {
  // Every file that may name a class: templ sources, their generated Go (what
  // actually ships) and handlers, which sometimes pick classes in Go.
  content: [
    './views/**/*.templ',
    './views/**/*_templ.go',
    './handlers/**/*.go',
  ],
  // Follow the operating system's light/dark setting; no toggle to store.
  darkMode: 'media',
  // The component classes from input.css are always emitted, even before a
  // view uses them, and status badges are often chosen at run time
  // ("badge-" + status), which the content scan cannot see.
  safelist: [
    { pattern: /^(btn|btn-(primary|secondary|danger))$/ },
    { pattern: /^(input|label|card|field-error|link|table|table-wrap)$/ },
    // Set by htmx at run time; the indicator rules live in input.css.
    'htmx-indicator',
    'htmx-request',
    {
      pattern:
        /^badge(-(pending|confirming|confirmed|expired|underpaid|draft|active|inactive|failed|delivered))?$/,
    },
  ],
  theme: {
    extend: {
      colors: {
        // Till's brand: a calm teal-green. White text passes WCAG AA (4.5:1)
        // from 600 up; 950 text passes on 400 and 500.
        brand: {
          50: '#effcf8',
          100: '#d6f6eb',
          200: '#aeecd8',
          300: '#76dbc0',
          400: '#3cc2a2',
          500: '#1aa588',
          600: '#0e7f6a',
          700: '#0f6758',
          800: '#115348',
          900: '#11453c',
          950: '#042721',
        },
      },
      fontFamily: {
        // System fonts only: nothing to download, native look everywhere.
        sans: [
          'system-ui',
          '-apple-system',
          '"Segoe UI"',
          'Roboto',
          '"Helvetica Neue"',
          '"Noto Sans"',
          '"Liberation Sans"',
          'Arial',
          'sans-serif',
          '"Apple Color Emoji"',
          '"Segoe UI Emoji"',
          '"Noto Color Emoji"',
        ],
        // Addresses, hashes and amounts.
        mono: [
          'ui-monospace',
          'SFMono-Regular',
          'Menlo',
          'Monaco',
          'Consolas',
          '"Liberation Mono"',
          '"Courier New"',
          'monospace',
        ],
      },
    },
  },
  plugins: [],
};
