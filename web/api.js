// The activation API (/api/v1, docs/api.md) and the dev-mode chip list, as calls
// that resolve to the server's JSON answer or reject with an ApiError.

// ApiError carries the server's stable error code; key is the catalogue key of the
// message shown for it. "network" is the page's own code for a request that got no
// answer at all.
//
// retryAt (milliseconds since 1970) is when a refusal that lifts by itself
// (chip_locked, too_many_codes) lifts, from the server's retry_after counted on this
// device's clock, which may be set wrong; rounded up to the minute, so a person who
// waits until the time shown is not refused again.
export class ApiError extends Error {
  constructor(code, status, triesLeft, retryAfter) {
    super(`api: ${code} (HTTP ${status})`);
    this.name = 'ApiError';
    this.code = code;
    this.key = `error.${code}`;
    this.status = status;
    this.triesLeft = triesLeft;
    this.retryAt = Number.isInteger(retryAfter) && retryAfter >= 0
      ? Math.ceil((Date.now() + retryAfter * 1000) / 60000) * 60000
      : undefined;
  }
}

export function createApi(fetchFn = globalThis.fetch.bind(globalThis)) {
  async function request(method, path, body) {
    const init = {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetchFn(path, init);
    } catch {
      throw new ApiError('network', 0);
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      // A proxy's HTML error page, or a cut connection: no code to show.
      if (res.ok) throw new ApiError('internal', res.status);
    }
    if (res.ok) return data;
    const err = data && typeof data.error === 'object' && data.error !== null ? data.error : {};
    const code = typeof err.code === 'string' && /^[a-z_]+$/.test(err.code) ? err.code : 'internal';
    const tries = Number.isInteger(err.tries_left) ? err.tries_left : undefined;
    throw new ApiError(code, res.status, tries, err.retry_after);
  }

  return {
    // requestId is the page's own id for redeeming this token: the same on every
    // try, so that a try whose answer was lost can be repeated (docs/api.md).
    redeem: (token, requestId) => request('POST', '/api/v1/handoff', { token, request_id: requestId }),
    state: () => request('GET', '/api/v1/activation'),
    passwordParams: () => request('GET', '/api/v1/password/params'),
    setPassword: (verifier) => request('POST', '/api/v1/password', { verifier }),
    hello: (hello) => request('POST', '/api/v1/chip/hello', { hello }),
    code: (code) => request('POST', '/api/v1/chip/code', { code }),
    signature: (signature) => request('POST', '/api/v1/chip/signature', { signature }),
    devChips: () => request('GET', '/dev/chips'),
    // Continue on another device: a one-time code for this activation, and its
    // redemption on the other device (docs/api.md).
    handover: () => request('POST', '/api/v1/handover', {}),
    redeemHandover: (code) => request('POST', '/api/v1/handover/redeem', { code }),
    // Logon at MitID.dk (docs/api.md, "Logon").
    logonBegin: (userId, authRequest) => request('POST', '/api/v1/logon/begin',
      authRequest ? { user_id: userId, auth_request: authRequest } : { user_id: userId }),
    logonPassword: (challengeId, proof) => request('POST', '/api/v1/logon/password', { challenge_id: challengeId, proof }),
    logonChip: (challengeId, hello, signature) => request('POST', '/api/v1/logon/chip', { challenge_id: challengeId, hello, signature }),
    mit: () => request('GET', '/api/v1/mit'),
    // Self-service at MitID.dk (docs/api.md, "Mit MitID").
    activity: (before) => request('GET', before ? `/api/v1/mit/activity?before=${encodeURIComponent(before)}` : '/api/v1/mit/activity'),
    changeBegin: () => request('POST', '/api/v1/mit/password/begin', {}),
    changeOld: (challengeId, proof) => request('POST', '/api/v1/mit/password/old', { challenge_id: challengeId, proof }),
    changeNew: (challengeId, verifier) => request('POST', '/api/v1/mit/password/new', { challenge_id: challengeId, verifier }),
    changeChip: (challengeId, hello, signature) => request('POST', '/api/v1/mit/password/chip', { challenge_id: challengeId, hello, signature }),
    blockOwn: (serial) => request('POST', '/api/v1/mit/block', { chip_serial: serial }),
    logoff: () => request('POST', '/api/v1/logoff', {}),
    // The site a logon for an OIDC authorization request is for, and the way back to
    // it without logging on (docs/oidc.md).
    logonSite: (authRequest) => request('GET', `/api/v1/logon/site?auth_request=${encodeURIComponent(authRequest)}`),
    logonCancel: (authRequest) => request('POST', '/api/v1/logon/cancel', { auth_request: authRequest }),
    // Borgerservice's console (docs/borgerservice.md).
    counter: () => request('GET', '/api/v1/counter'),
    counterCitizen: (personId) => request('POST', '/api/v1/counter/citizen', { person_id: personId }),
    counterActivate: (check) => request('POST', '/api/v1/counter/activation', check),
    counterEnd: (personId) => request('POST', '/api/v1/counter/activation/end', { person_id: personId }),
    counterBlock: (personId, serial) => request('POST', '/api/v1/counter/block', { person_id: personId, chip_serial: serial }),
    counterUnlock: (personId, serial) => request('POST', '/api/v1/counter/unlock', { person_id: personId, chip_serial: serial }),
  };
}
