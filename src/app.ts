import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.js';
import { ClientRegistrationError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { openDatabase, type Database } from './db/data-source.js';
import { loadKeystore, type Keystore } from '../keys/keystore.js';
import { loadClients } from './clients/registry.js';
import { createAccessTokenJwt } from './provider/access-token-jwt.js';
import { createProvider, ROUTES } from './provider/provider.js';
import { createBackchannelLogout, createBackchannelLogoutAdapter } from './provider/logout.js';
import { createAuthenticatorApps } from './accounts/authenticator-app.js';
import { createPasskeys } from './accounts/passkeys.js';
import { createRecoveryCodes } from './accounts/recovery-codes.js';
import { createIdentityProofing } from './accounts/identity-proofing.js';
import { createPatientDemographics, fakeRegisterPatients } from './demographics/index.js';
import { createRegisterSync } from './demographics/register-sync.js';
import { createGpOnlineRegistration } from './gp-online/fake-gp-online.js';
import { createPhotoIdCases } from './photo-id/cases.js';
import { createPhotoDecoder } from './photo-id/images.js';
import { createEvidenceRetention } from './photo-id/evidence-retention.js';
import { createIdTokenReferences } from './provider/id-token-reference.js';
import { createMobileChanges } from './accounts/mobile-change.js';
import { purgeUnconfirmedAccounts } from './accounts/registration.js';
import { assertedLoginIdentity } from './provider/asserted-login-identity.js';
import { createUserinfoUpdateRouter } from './provider/userinfo-update.js';
import { createClientUserMetadataStore } from './accounts/client-user-metadata.js';
import { purgeExpiredModels } from './provider/adapter.js';
import { createRenderer } from './web/renderer.js';
import { assets, errorHandler, notFound, requestContext, securityHeaders } from './web/middleware.js';
import { nhsLoginDialect } from './provider/dialect.js';
import { createPublicRouter } from './web/public-routes.js';
import { createNotifications } from './notifications/outbox.js';
import { createDevOutboxRouter } from './notifications/dev-outbox-router.js';
import { createAccountService } from './accounts/account-service.js';
import { createPasswordHasher } from './accounts/password-hasher.js';
import { PERSONAS, refusePersonasInProduction, seedPersonas } from './accounts/personas.js';
import { createAttemptCounters } from './security/attempt-counters.js';
import { createSecurityCodes } from './security/security-codes.js';
import { createAudit } from './security/audit.js';
import { createCsrf } from './security/csrf.js';
import { createKeyedDigest } from './security/keyed-digest.js';
import { createInteractionRouter } from '../interactions/router.js';
import { createAccountRouter } from './account/router.js';
import { withAccountClient } from './account/internal-client.js';
import { withBackOfficeClient } from './back-office/internal-client.js';
import { createBackOfficeRouter } from './back-office/router.js';
import { createPasswordResetRouter } from './web/password-reset-routes.js';
import { createMobileChangeRouter } from './web/mobile-change-routes.js';
import { purgeExpiredJourneys } from '../interactions/engine/store.js';
import { createTestUserRegister } from './test-users/register.js';
import { createTestUsersRouter } from './test-users/router.js';
import { createTestUsers } from './test-users/test-users.js';
import type { AppServices } from './services.js';

export interface Idp {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly provider: Provider;
  readonly services: AppServices;
  readonly keystore: Keystore;
  /** The Node request listener (for an http.Server the caller owns). */
  readonly callback: http.RequestListener;
  /** Starts listening on config.port/host; resolves with the bound URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful stop: readiness goes 503, in-flight requests drain, the outbox batch finishes, the database closes. */
  close(): Promise<void>;
}

export interface CreateIdpOptions {
  readonly logger?: Logger;
  /** Share one embedded database between several instances (tests, "instances behave as one"). */
  readonly pglite?: PGlite;
  /** Start the outbox worker and the purge timer (default true). */
  readonly background?: boolean;
}

const PURGE_INTERVAL_MS = 5 * 60 * 1000;
/** How often held mobile changes that are due take effect ("up to 24 hours": a minute late is fine). */
const MOBILE_CHANGE_INTERVAL_MS = 60 * 1000;

/** The composition root: builds every part from config and wires them into one Koa app (the provider). */
export async function createIdp(config: Config, options: CreateIdpOptions = {}): Promise<Idp> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const db = await openDatabase(config, logger, { pglite: options.pglite });
  try {
    const keystore = await loadKeystore(config, logger);
    // Our own "Your account" area and back office are first-party relying parties, registered in code.
    const clients = withBackOfficeClient(withAccountClient(await loadClients(config), config.issuer), config.issuer);
    const renderer = createRenderer();
    const dataSource = db.dataSource;
    const idTokenReferences = createIdTokenReferences(keystore.hmacKeys);
    const provider = createProvider({ config, logger, dataSource, keystore, clients, renderer, idTokenReferences });
    await assertClientsUsable(provider, clients.map((c) => c.metadata.client_id));

    const hasher = createPasswordHasher(config);
    const counters = createAttemptCounters(dataSource, config);
    const audit = createAudit(dataSource, logger);
    const registered = new Map(clients.map((c) => [c.metadata.client_id, c]));
    // Logout tokens go through the outbox too (D13): it delivers them with oidc-provider's signer.
    const notifications = createNotifications({ config, logger, dataSource, audit, adapters: { backchannelLogout: createBackchannelLogoutAdapter(provider) } });
    const backchannelLogout = createBackchannelLogout({ provider, notifications, dataSource, logger, clients: registered });
    // Test users in the fake register and GP system (D27); the real adapters never see them.
    const testUserRegister = config.mode === 'production' ? undefined : createTestUserRegister(dataSource);
    const demographics = createPatientDemographics(config, logger, testUserRegister);
    const services: AppServices = {
      config,
      logger,
      dataSource,
      provider,
      renderer,
      notifications,
      accounts: createAccountService(dataSource),
      hasher,
      counters,
      codes: createSecurityCodes({ dataSource, config, hmacKeys: keystore.hmacKeys, audit }),
      audit,
      csrf: createCsrf(keystore.hmacKeys),
      digest: createKeyedDigest(keystore.hmacKeys),
      clients: registered,
      backchannelLogout,
      mobileChanges: createMobileChanges({ config, dataSource, notifications, audit, counters, backchannelLogout }),
      authenticatorApps: createAuthenticatorApps({ dataSource, hmacKeys: keystore.hmacKeys, counters, notifications, audit }),
      passkeys: createPasskeys({ dataSource, issuer: config.issuer, hmacKeys: keystore.hmacKeys, notifications, audit, logger }),
      recoveryCodes: createRecoveryCodes({ dataSource, hmacKeys: keystore.hmacKeys, counters, notifications, audit }),
      demographics,
      gpOnline: createGpOnlineRegistration(config, undefined, testUserRegister),
      photoIdCases: createPhotoIdCases({ dataSource, audit, notifications, assignmentSeconds: config.backOffice.assignmentSeconds }),
      photoDecoder: createPhotoDecoder(config.identityChecks.photoIdLimits),
      evidenceRetention: createEvidenceRetention({ dataSource, audit, retentionDays: config.identityChecks.photoIdEvidenceRetentionDays }),
      identityProofing: createIdentityProofing({ dataSource, audit }),
      registerSync: createRegisterSync({ dataSource, demographics, audit, logger, settings: config.identityChecks.registerSync }),
    };

    await refusePersonasInProduction(dataSource, config);
    if (config.personas.seed) await seedPersonas({ dataSource, hasher, config, logger, hmacKeys: keystore.hmacKeys });

    let accepting = true;
    const accessTokens = createAccessTokenJwt({ issuer: config.issuer, keystore, routes: ROUTES });
    accessTokens.acceptOnlyJwts(provider);
    // oidc-provider registers its own routes first; ours run for requests it does not answer.
    // Cross-cutting middleware goes to the front so it wraps the protocol endpoints too.
    const sso = assertedLoginIdentity({ config, logger, provider, clients: services.clients, accounts: services.accounts, references: idTokenReferences, authorizationPath: ROUTES.authorization });
    provider.middleware.unshift(requestContext(logger), securityHeaders({ https: config.issuer.startsWith('https://') }), errorHandler(renderer), notFound(renderer), nhsLoginDialect(ROUTES), sso, accessTokens.middleware, assets());
    const publicRouter = createPublicRouter({
      config,
      dataSource,
      renderer,
      isAcceptingTraffic: () => accepting,
      personas: config.personas.seed ? PERSONAS : undefined,
    });
    provider.use(publicRouter.routes());
    provider.use(createInteractionRouter(services).routes());
    provider.use(createAccountRouter(services).routes());
    provider.use(createBackOfficeRouter(services, keystore.hmacKeys).routes());
    provider.use(createPasswordResetRouter(services).routes());
    provider.use(createMobileChangeRouter(services).routes());
    provider.use(createUserinfoUpdateRouter({ provider, clients: services.clients, accounts: services.accounts, metadata: createClientUserMetadataStore(dataSource), logger, path: ROUTES.userinfo }).routes());
    if (config.notifications.devOutbox) provider.use(createDevOutboxRouter({ config, dataSource, renderer }).routes());
    if (config.devTestUsers) {
      const testUsers = createTestUsers({ dataSource, config, hasher, audit, digest: services.digest, registerPatients: fakeRegisterPatients(config) });
      provider.use(createTestUsersRouter(services, testUsers).routes());
    }

    const background = options.background ?? true;
    let purgeTimer: NodeJS.Timeout | undefined;
    let mobileChangeTimer: NodeJS.Timeout | undefined;
    if (background) {
      services.notifications.startWorker();
      purgeTimer = setInterval(() => {
        Promise.all([purgeExpiredModels(dataSource), purgeExpiredJourneys(dataSource), purgeUnconfirmedAccounts(dataSource, config.ttl.unconfirmedAccount)]).catch((error: unknown) => logger.warn({ err: error }, 'purge of expired records failed'));
        purgePhotoIdEvidence(services, logger).catch((error: unknown) => logger.warn({ err: error, event: 'photo_id.evidence_purge_failed' }, 'deleting photo ID evidence past its retention failed'));
        services.registerSync.syncDue().catch((error: unknown) => logger.warn({ err: error, event: 'register_sync.failed' }, 'the register sync run failed; it runs again next time'));
      }, PURGE_INTERVAL_MS);
      purgeTimer.unref();
      mobileChangeTimer = setInterval(() => {
        services.mobileChanges.applyDue().catch((error: unknown) => logger.warn({ err: error }, 'applying held mobile changes failed'));
      }, MOBILE_CHANGE_INTERVAL_MS);
      mobileChangeTimer.unref();
    }

    const callback = provider.callback();
    let server: http.Server | undefined;
    let closing: Promise<void> | undefined;

    return {
      config,
      logger,
      db,
      provider,
      services,
      keystore,
      callback,
      listen(port = config.port, host = config.host) {
        server = http.createServer(callback);
        // Slow-loris protection; keep-alive shorter than typical load balancer idle timeouts.
        server.headersTimeout = 20000;
        server.requestTimeout = 30000;
        server.keepAliveTimeout = 5000;
        return new Promise((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(port, host, () => {
            const address = server!.address() as AddressInfo;
            resolve(`http://${host}:${address.port}`);
          });
        });
      },
      close() {
        closing ??= (async () => {
          accepting = false;
          if (purgeTimer) clearInterval(purgeTimer);
          if (mobileChangeTimer) clearInterval(mobileChangeTimer);
          if (server && config.shutdownDrainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainDelayMs));
          if (server) await stopServer(server, config.shutdownGraceMs, logger);
          if (background) await services.notifications.stopWorker();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

/** The retention job's run (H3, D22): evidence of cases decided long enough ago is deleted, and the count logged. */
export async function purgePhotoIdEvidence(services: Pick<AppServices, 'evidenceRetention'>, logger: Logger, now = new Date()): Promise<number> {
  const { cases, items } = await services.evidenceRetention.purge(now);
  if (cases > 0) logger.info({ event: 'photo_id.evidence_purged', cases, items, retentionDays: services.evidenceRetention.retentionDays }, 'deleted photo ID evidence past its retention');
  return cases;
}

/** oidc-provider validates static clients lazily; find each now so a bad registration stops the start. */
async function assertClientsUsable(provider: Provider, clientIds: readonly string[]): Promise<void> {
  for (const clientId of clientIds) {
    try {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error('not found after registration');
    } catch (error) {
      const detail = error instanceof Error ? `${error.message}${'error_description' in error ? `: ${String(error.error_description)}` : ''}` : String(error);
      throw new ClientRegistrationError(clientId, 'metadata', `is not acceptable to the OpenID provider (${detail})`);
    }
  }
}

/** Stops accepting connections, lets in-flight requests finish, then closes idle keep-alive sockets. */
function stopServer(server: http.Server, graceMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      logger.warn('shutdown deadline reached; closing remaining connections');
      server.closeAllConnections();
    }, graceMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
