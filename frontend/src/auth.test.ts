import { describe, expect, it, vi } from 'vitest';
import type { PortalConfig } from './api';
import { AuthError, cognitoUrl, refresh, signIn } from './auth';

const config: PortalConfig = {
  apiUrl: 'http://127.0.0.1:8080',
  region: 'eu-west-3',
  userPoolId: 'pool',
  userPoolClientId: 'client',
};

describe('Cognito sign-in', () => {
  it('uses the public endpoint unless cognitoEndpoint is set', () => {
    expect(cognitoUrl(config)).toBe('https://cognito-idp.eu-west-3.amazonaws.com/');
    expect(cognitoUrl({ ...config, cognitoEndpoint: 'http://127.0.0.1:5000' })).toBe('http://127.0.0.1:5000');
  });

  it('posts InitiateAuth USER_PASSWORD_AUTH and computes the expiry', async () => {
    const fetchMock = vi.fn(
      async () =>
        new Response(JSON.stringify({ AuthenticationResult: { AccessToken: 'a', RefreshToken: 'r', ExpiresIn: 3600 } })),
    );
    const s = await signIn(config, 'alice', 'pw', fetchMock as unknown as typeof fetch, () => 1000);
    expect(s).toEqual({ username: 'alice', accessToken: 'a', refreshToken: 'r', expiresAt: 3_601_000 });
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    const headers = init.headers as Record<string, string>;
    expect(headers['X-Amz-Target']).toBe('AWSCognitoIdentityProviderService.InitiateAuth');
    expect(headers['Content-Type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(init.body as string)).toEqual({
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: 'client',
      AuthParameters: { USERNAME: 'alice', PASSWORD: 'pw' },
    });
  });

  it('refreshes with REFRESH_TOKEN_AUTH and keeps the refresh token', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ AuthenticationResult: { AccessToken: 'b', ExpiresIn: 60 } })));
    const s = await refresh(config, { username: 'alice', accessToken: 'a', refreshToken: 'r', expiresAt: 0 }, fetchMock as unknown as typeof fetch, () => 0);
    expect(s).toMatchObject({ accessToken: 'b', refreshToken: 'r', expiresAt: 60_000 });
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(JSON.parse(init.body as string).AuthParameters).toEqual({ REFRESH_TOKEN: 'r' });
  });

  it("reports Cognito's message", async () => {
    const fetchMock = vi.fn(
      async () =>
        new Response(JSON.stringify({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }), {
          status: 400,
        }),
    );
    const e = await signIn(config, 'alice', 'bad', fetchMock as unknown as typeof fetch).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('NotAuthorizedException');
    expect((e as AuthError).message).toBe('Incorrect username or password.');
  });
});
