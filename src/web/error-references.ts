/**
 * The reference codes NHS login shows on its error pages ("CID" codes, nhs-login.md: its help
 * centre tells people what each means, and support staff ask for them). carelogin uses NHS login's
 * code where it has the same situation, so a person or a helpdesk used to NHS login recognises it.
 * Pages show one through the `errorReference` macro in src/views/partials/reference.njk.
 */
export const ERROR_REFERENCES = {
  resetLinkExpired: 'CID2021',
  resetLinkUsed: 'CID2022',
  resetLinkBroken: 'CID2023',
  unknownClient: 'CID2024',
} as const;

export type ErrorReference = (typeof ERROR_REFERENCES)[keyof typeof ERROR_REFERENCES];
