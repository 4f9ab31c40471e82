// Cognito sign-in with USER_PASSWORD_AUTH (InitiateAuth), refresh with REFRESH_TOKEN_AUTH.
// Production may use the hosted UI instead (see frontend/README.md).
//
// A session lives in the page's memory only (App's state), never in web storage: a script
// that got into the page could read a stored refresh token and use it for its whole
// lifetime, from anywhere. The price is that a reload or a new tab signs in again.

import type { PortalConfig } from './api';

export interface Session {
  username: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number;
}

export class AuthError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
  }
}

export function cognitoUrl(config: PortalConfig): string {
  return config.cognitoEndpoint ?? `https://cognito-idp.${config.region}.amazonaws.com/`;
}

interface AuthenticationResult {
  AccessToken: string;
  ExpiresIn: number;
  RefreshToken?: string;
  IdToken?: string;
  TokenType?: string;
}

async function initiateAuth(
  config: PortalConfig,
  flow: 'USER_PASSWORD_AUTH' | 'REFRESH_TOKEN_AUTH',
  parameters: Record<string, string>,
  fetchImpl: typeof fetch,
): Promise<AuthenticationResult> {
  let response: Response;
  try {
    response = await fetchImpl(cognitoUrl(config), {
      method: 'POST',
      headers: {
        'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
        'Content-Type': 'application/x-amz-json-1.1',
      },
      body: JSON.stringify({ AuthFlow: flow, ClientId: config.userPoolClientId, AuthParameters: parameters }),
    });
  } catch (e) {
    throw new AuthError('NetworkError', e instanceof Error ? e.message : String(e));
  }
  const body = (await response.json().catch(() => ({}))) as {
    AuthenticationResult?: AuthenticationResult;
    ChallengeName?: string;
    __type?: string;
    message?: string;
  };
  if (!response.ok) {
    const code = (body.__type ?? 'Error').split('#').pop() ?? 'Error';
    throw new AuthError(code, body.message ?? `sign-in failed (HTTP ${response.status})`);
  }
  if (!body.AuthenticationResult) {
    throw new AuthError(body.ChallengeName ?? 'Challenge', `Cognito asks for ${body.ChallengeName ?? 'a challenge'}, which the portal does not support`);
  }
  return body.AuthenticationResult;
}

export async function signIn(
  config: PortalConfig,
  username: string,
  password: string,
  fetchImpl: typeof fetch = fetch,
  now: () => number = Date.now,
): Promise<Session> {
  const r = await initiateAuth(config, 'USER_PASSWORD_AUTH', { USERNAME: username, PASSWORD: password }, fetchImpl);
  return {
    username,
    accessToken: r.AccessToken,
    refreshToken: r.RefreshToken ?? '',
    expiresAt: now() + r.ExpiresIn * 1000,
  };
}

export async function refresh(
  config: PortalConfig,
  session: Session,
  fetchImpl: typeof fetch = fetch,
  now: () => number = Date.now,
): Promise<Session> {
  const r = await initiateAuth(config, 'REFRESH_TOKEN_AUTH', { REFRESH_TOKEN: session.refreshToken }, fetchImpl);
  return {
    ...session,
    accessToken: r.AccessToken,
    refreshToken: r.RefreshToken ?? session.refreshToken,
    expiresAt: now() + r.ExpiresIn * 1000,
  };
}

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;
