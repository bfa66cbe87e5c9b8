import { createRequire } from 'node:module';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { PROJECT_ROOT } from '../project-root.js';
import { nhsDate, nhsDateTime } from './dates.js';

/** A field-level problem shown in the error summary and beside the field (NHS design system pattern). */
export interface FieldError {
  /** The id of the input the summary links to. */
  readonly field: string;
  readonly text: string;
}

export interface Renderer {
  render(template: string, data?: Record<string, unknown>): string;
}

const NHSUK_FRONTEND_DIST = path.resolve(path.dirname(createRequire(import.meta.url).resolve('nhsuk-frontend')), '..');

/** Where the NHS design system's compiled CSS, JS and icons are served from (/assets). */
export const NHSUK_ASSETS_DIR = path.join(NHSUK_FRONTEND_DIST, 'nhsuk');

/**
 * Nunjucks over our views and the nhsuk-frontend macros. Journey pages live in interactions/views,
 * shared pages and the layout in src/views. Autoescaping is on: never mark user input safe.
 */
export function createRenderer(options: { serviceName?: string } = {}): Renderer {
  const env = new nunjucks.Environment(
    new nunjucks.FileSystemLoader([
      path.join(PROJECT_ROOT, 'interactions', 'views'),
      path.join(PROJECT_ROOT, 'src', 'views'),
      NHSUK_FRONTEND_DIST,
    ], { noCache: false }),
    { autoescape: true, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true },
  );
  env.addGlobal('serviceName', options.serviceName ?? 'carelogin');
  env.addFilter('nhsDate', nhsDate);
  env.addFilter('nhsDateTime', nhsDateTime);
  /** JSON for a <script type="application/json">: nothing in it may close the element. */
  env.addFilter('scriptJson', (value: unknown) => new nunjucks.runtime.SafeString(JSON.stringify(value).replace(/</g, '\\u003c')));
  /** Turns our FieldError[] into the error summary's errorList. */
  env.addFilter('errorList', (errors: FieldError[] | undefined) => (errors ?? []).map((e) => ({ text: e.text, href: `#${e.field}` })));
  /** The message for one field, in the shape nhsuk macros take for errorMessage. */
  env.addFilter('fieldError', (errors: FieldError[] | undefined, field: string) => {
    const found = (errors ?? []).find((e) => e.field === field);
    return found ? { text: found.text } : undefined;
  });
  return {
    render(template, data = {}) {
      return env.render(template, data);
    },
  };
}
