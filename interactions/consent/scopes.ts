/**
 * What the consent page says will be shared, in plain English, derived from the requested scopes
 * (and any individually requested claims). Items are listed once, in this order, however many
 * scopes ask for them: profile and basic_demographics both share a surname, for example.
 */
const ITEMS = {
  identifier: 'a unique identifier for your account',
  nhsNumber: 'your NHS number',
  givenName: 'your first name',
  familyName: 'your surname',
  birthdate: 'your date of birth',
  email: 'your email address',
  mobile: 'your mobile phone number',
  landline: 'your landline phone number',
  gpPractice: 'your GP practice',
  gpOnline: 'your GP online services details',
  clientMetadata: 'details this service keeps with your account',
  offlineAccess: 'access to this information when you are not using the service',
} as const;

type Item = keyof typeof ITEMS;

const ORDER = Object.keys(ITEMS) as Item[];

const SCOPE_ITEMS: Readonly<Record<string, readonly Item[]>> = {
  openid: ['identifier'],
  profile: ['nhsNumber', 'familyName', 'birthdate'],
  basic_demographics: ['familyName', 'birthdate'],
  profile_extended: ['givenName'],
  email: ['email'],
  phone: ['mobile'],
  landline: ['landline'],
  gp_registration_details: ['gpPractice'],
  gp_integration_credentials: ['gpOnline'],
  client_metadata: ['clientMetadata'],
  offline_access: ['offlineAccess'],
};

const CLAIM_ITEMS: Readonly<Record<string, Item>> = {
  sub: 'identifier',
  nhs_number: 'nhsNumber',
  given_name: 'givenName',
  family_name: 'familyName',
  birthdate: 'birthdate',
  email: 'email',
  phone_number: 'mobile',
  landline_number: 'landline',
  gp_registration_details: 'gpPractice',
  gp_integration_credentials: 'gpOnline',
  client_user_metadata: 'clientMetadata',
};

/** Plain-English list of what a service will receive; unknown scopes and claims add nothing. */
export function describeSharing(scopes: Iterable<string>, claims: Iterable<string> = []): string[] {
  const wanted = new Set<Item>();
  for (const scope of scopes) for (const item of (Object.hasOwn(SCOPE_ITEMS, scope) ? SCOPE_ITEMS[scope] : undefined) ?? []) wanted.add(item);
  for (const claim of claims) {
    const item = Object.hasOwn(CLAIM_ITEMS, claim) ? CLAIM_ITEMS[claim] : undefined;
    if (item) wanted.add(item);
  }
  return ORDER.filter((item) => wanted.has(item)).map((item) => ITEMS[item]);
}
